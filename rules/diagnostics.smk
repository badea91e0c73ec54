DIAGNOSTICS = config["figures"]["diagnostics"]


if DIAGNOSTICS is not None:

    rule diagnostics:
        input:
            extraction=rules.extract.output[0],
            scores=rules.score.output[0],
        output:
            png=diagnostic_report(
                f"{RESULTS}/figures/diagnostics/{{hps}}/{{perturbation}}.png",
                "diagnostics",
                "Convergence",
                perturbation_labels("PNG"),
            ),
            pdf=diagnostic_report(
                f"{RESULTS}/figures/diagnostics/{{hps}}/{{perturbation}}.pdf",
                "diagnostics",
                "Convergence",
                perturbation_labels("PDF"),
            ),
        log:
            log_path("diagnostics/{hps}/{perturbation}"),
        benchmark:
            benchmark_path("diagnostics/{hps}/{perturbation}")
        conda:
            CONDA_ENV
        params:
            threshold=DIAGNOSTICS["threshold"],
            perturbation=perturbation_columns,
            code=script_code("diagnostics"),
        script:
            "../scripts/diagnostics.py"
