DIAGNOSTICS = config["figures"]["diagnostics"]


if DIAGNOSTICS is not None:

    rule diagnostics:
        input:
            extraction=rules.extract.output[0],
            scores=rules.score.output[0],
        output:
            png=diagnostic_report(
                f"{RESULTS}/figures/diagnostics/{{hps}}/sigma{{sigma}}.png",
                "diagnostics",
                "Convergence",
                {"set": "{hps}", "sigma": "{sigma}", "format": "PNG"},
            ),
            pdf=diagnostic_report(
                f"{RESULTS}/figures/diagnostics/{{hps}}/sigma{{sigma}}.pdf",
                "diagnostics",
                "Convergence",
                {"set": "{hps}", "sigma": "{sigma}", "format": "PDF"},
            ),
        log:
            log_path("diagnostics/{hps}/sigma{sigma}"),
        benchmark:
            benchmark_path("diagnostics/{hps}/sigma{sigma}")
        conda:
            CONDA_ENV
        params:
            threshold=DIAGNOSTICS["threshold"],
            sigma=lambda wildcards: SIGMAS[wildcards.sigma],
            code=script_code("diagnostics"),
        script:
            "../scripts/diagnostics.py"
