DIAGNOSTICS = config["figures"]["diagnostics"]


if DIAGNOSTICS is not None:

    rule diagnostics:
        input:
            extraction=rules.extract.output[0],
            iou=rules.iou.output[0],
        output:
            png=f"{RESULTS}/figures/diagnostics/{{hps}}/sigma{{sigma}}.png",
            pdf=f"{RESULTS}/figures/diagnostics/{{hps}}/sigma{{sigma}}.pdf",
        params:
            threshold=DIAGNOSTICS["threshold"],
            sigma=lambda wildcards: SIGMAS[wildcards.sigma],
            code=script_code("diagnostics"),
        log:
            log_path("diagnostics/{hps}/sigma{sigma}"),
        benchmark:
            benchmark_path("diagnostics/{hps}/sigma{sigma}")
        script:
            "../scripts/diagnostics.py"
