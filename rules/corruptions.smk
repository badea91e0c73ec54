# ImageNet-C corruptions beside localisation (docs/corruptions.md). Each corruption branch of
# corruptions.analysis runs through extract, score and bootstrap as `{set}/corruptions/{family}/
# severity{n}` (rules/extract.smk, rules/score.smk); these rules summarise a set's branches
# (robustness) and draw them (fig_corruptions), and draw the sweeps run at corruptions
# (fig4_corruptions).

if CORRUPTION_SETS:

    rule robustness:
        input:
            extractions=branch_files("extract", "h5"),
            summaries=branch_files("bootstrap", "csv"),
        output:
            errors=corruption_report(
                f"{RESULTS}/robustness/{{hps}}/errors.csv", "robustness_errors", "Tables", "top-1 errors"
            ),
            ce=corruption_report(f"{RESULTS}/robustness/{{hps}}/ce.csv", "robustness_ce", "Tables", "CE and mCE"),
            localisation=corruption_report(
                f"{RESULTS}/robustness/{{hps}}/localisation.csv", "robustness_localisation", "Tables", "localisation"
            ),
        log:
            log_path("robustness/{hps}"),
        benchmark:
            benchmark_path("robustness/{hps}")
        wildcard_constraints:
            hps="|".join(CORRUPTION_SETS),
        conda:
            CONDA_ENV
        params:
            # In the order of the inputs (the script pairs them).
            branches=[p.columns() for p in ANALYSED],
            bootstrap=config["bootstrap"],
            alexnet=CORRUPTION_ANALYSIS["alexnet_normalization"],
            code=script_code("robustness"),
        script:
            "../scripts/robustness.py"


if CORRUPTION_SETS and DRAWN_FAMILIES:

    rule fig_corruptions:
        input:
            ce=rules.robustness.output.ce,
            localisation=rules.robustness.output.localisation,
            scores=branch_files("scores", "parquet"),
        output:
            heatmap_png=corruption_report(
                f"{RESULTS}/figures/corruptions/{{hps}}/heatmap.png",
                "fig_corruptions_heatmap",
                "Figures",
                "heatmap",
                "PNG",
            ),
            heatmap_pdf=corruption_report(
                f"{RESULTS}/figures/corruptions/{{hps}}/heatmap.pdf",
                "fig_corruptions_heatmap",
                "Figures",
                "heatmap",
                "PDF",
            ),
            curves_png=corruption_report(
                f"{RESULTS}/figures/corruptions/{{hps}}/curves.png",
                "fig_corruptions_curves",
                "Figures",
                "curves",
                "PNG",
            ),
            curves_pdf=corruption_report(
                f"{RESULTS}/figures/corruptions/{{hps}}/curves.pdf",
                "fig_corruptions_curves",
                "Figures",
                "curves",
                "PDF",
            ),
            table=corruption_report(
                f"{RESULTS}/figures/corruptions/{{hps}}/curves.csv", "fig_corruptions_table", "Tables", "curves' table"
            ),
        log:
            log_path("fig_corruptions/{hps}"),
        benchmark:
            benchmark_path("fig_corruptions/{hps}")
        wildcard_constraints:
            hps="|".join(CORRUPTION_SETS),
        conda:
            CONDA_ENV
        params:
            branches=[p.columns() for p in ANALYSED],
            families=DRAWN_FAMILIES,
            figure={key: value for key, value in FIG_CORRUPTIONS.items() if key != "families"},
            bootstrap=config["bootstrap"],
            code=script_code("fig_corruptions"),
        script:
            "../scripts/fig_corruptions.py"


if FIG4_CORRUPTIONS is not None:
    FIG4_CORRUPTIONS_SWEEP = SWEEPS[FIG4_CORRUPTIONS["sweep"]]

    rule fig4_corruptions:
        input:
            lambda wildcards: [
                f"{sweep_folder(FIG4_CORRUPTIONS['sweep'], Perturbation.corruption(wildcards.family, n).label)}/summary.csv"
                for n in sorted(FIG4_CORRUPTIONS_SWEEP["corruptions"][wildcards.family])
            ],
        output:
            png=_report_item(
                f"{RESULTS}/figures/fig4_corruptions/{{family}}.png",
                "fig4_corruptions",
                "Figures",
                "Corruption sweeps",
                {
                    "figure": "Figure 4 per corruption",
                    "sweep": FIG4_CORRUPTIONS["sweep"],
                    "family": "{family}",
                    "format": "PNG",
                },
            ),
            pdf=_report_item(
                f"{RESULTS}/figures/fig4_corruptions/{{family}}.pdf",
                "fig4_corruptions",
                "Figures",
                "Corruption sweeps",
                {
                    "figure": "Figure 4 per corruption",
                    "sweep": FIG4_CORRUPTIONS["sweep"],
                    "family": "{family}",
                    "format": "PDF",
                },
            ),
        log:
            log_path("fig4_corruptions/{family}"),
        benchmark:
            benchmark_path("fig4_corruptions/{family}")
        wildcard_constraints:
            family="|".join(FIG4_CORRUPTIONS_SWEEP["corruptions"]),
        conda:
            CONDA_ENV
        params:
            figure=FIG4_CORRUPTIONS,
            severities=lambda wildcards: sorted(FIG4_CORRUPTIONS_SWEEP["corruptions"][wildcards.family]),
            axes=grid_axes(FIG4_CORRUPTIONS["sweep"]),
            code=script_code("fig4_corruptions"),
        script:
            "../scripts/fig4_corruptions.py"
