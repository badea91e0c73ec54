# Why the maps move (docs/mechanism.md): representation recovery and the feedback controls. Each
# condition runs as the set `{hyperparameter_set}@{condition}`: every condition's extraction in one
# job (extract_conditions, rules/extract.smk), then score and bootstrap each; these rules compare
# them with the real dynamics and draw the figures.

if MECHANISM is not None:

    rule mechanism_stats:
        input:
            extractions=mechanism_files("extract", "h5"),
            scores=mechanism_files("scores", "parquet"),
        output:
            recovery=mechanism_report(
                f"{RESULTS}/mechanism/{{perturbation}}/recovery.csv", "mechanism_recovery", "Tables", "recovery"
            ),
            controls=mechanism_report(
                f"{RESULTS}/mechanism/{{perturbation}}/controls.csv", "mechanism_controls", "Tables", "controls"
            ),
            link=mechanism_report(f"{RESULTS}/mechanism/{{perturbation}}/link.csv", "mechanism_link", "Tables", "link"),
            per_image=mechanism_report(
                f"{RESULTS}/mechanism/{{perturbation}}/per_image.csv", "mechanism_per_image", "Tables", "per image"
            ),
        log:
            log_path("mechanism_stats/{perturbation}"),
        benchmark:
            benchmark_path("mechanism_stats/{perturbation}")
        conda:
            CONDA_ENV
        params:
            conditions=mechanism_conditions(),
            metric=MECHANISM["metric"],
            parameter=MECHANISM["parameter"],
            bootstrap=config["bootstrap"],
            perturbation=mechanism_perturbation_columns,
            code=script_code("mechanism_stats"),
        script:
            "../scripts/mechanism_stats.py"

    rule fig_mechanism:
        input:
            stats=rules.mechanism_stats.output,
            summaries=mechanism_files("bootstrap", "csv"),
        output:
            png=mechanism_report(
                f"{RESULTS}/figures/mechanism/{{perturbation}}.png", "fig_mechanism", "Figures", "mechanism", "PNG"
            ),
            pdf=mechanism_report(
                f"{RESULTS}/figures/mechanism/{{perturbation}}.pdf", "fig_mechanism", "Figures", "mechanism", "PDF"
            ),
            controls_png=mechanism_report(
                f"{RESULTS}/figures/controls/{{perturbation}}.png", "fig_controls", "Figures", "controls", "PNG"
            ),
            controls_pdf=mechanism_report(
                f"{RESULTS}/figures/controls/{{perturbation}}.pdf", "fig_controls", "Figures", "controls", "PDF"
            ),
            controls_table=mechanism_report(
                f"{RESULTS}/figures/controls/{{perturbation}}.csv", "fig_controls_table", "Tables", "controls' figure"
            ),
        log:
            log_path("fig_mechanism/{perturbation}"),
        benchmark:
            benchmark_path("fig_mechanism/{perturbation}")
        conda:
            CONDA_ENV
        params:
            conditions=mechanism_conditions(),
            layer=MECHANISM_TOP,
            metric=MECHANISM["metric"],
            parameter=MECHANISM["parameter"],
            scatter_timestep=MECHANISM["scatter_timestep"],
            alpha=MECHANISM["alpha"],
            error=config["figures"]["fig2"]["error"],
            perturbation=mechanism_perturbation_columns,
            code=script_code("fig_mechanism"),
        script:
            "../scripts/fig_mechanism.py"
