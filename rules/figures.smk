FIG2 = config["figures"]["fig2"]


rule fig2:
    input:
        expand(
            f"{RESULTS}/bootstrap/{{hps}}/sigma{{sigma}}.csv",
            hps=FIG2["hyperparameter_sets"],
            sigma=sigma_label(FIG2["sigma"]),
        ),
    output:
        png=figure_report(f"{RESULTS}/figures/fig2.png", "fig2"),
        pdf=figure_report(f"{RESULTS}/figures/fig2.pdf", "fig2"),
        table=table_report(f"{RESULTS}/figures/fig2.csv", "fig2_table"),
    log:
        log_path("fig2"),
    benchmark:
        benchmark_path("fig2")
    conda:
        CONDA_ENV
    params:
        sets=FIG2["hyperparameter_sets"],
        sigma=FIG2["sigma"],
        method=FIG2["method"],
        layer=FIG2["layer"],
        metric=FIG2["metric"],
        parameter=FIG2["parameter"],
        alpha=FIG2["alpha"],
        error=FIG2["error"],
        code=script_code("fig2"),
    script:
        "../scripts/fig2.py"


FIGURES = config["figures"]


if FIGURES["fig3"] is not None:

    rule fig3:
        input:
            f"{sweep_folder(FIGURES['fig3']['sweep'], Perturbation.noise(FIGURES['fig3']['sigma']).label)}/summary.csv",
        output:
            png=figure_report(f"{RESULTS}/figures/fig3.png", "fig3"),
            pdf=figure_report(f"{RESULTS}/figures/fig3.pdf", "fig3"),
        log:
            log_path("fig3"),
        benchmark:
            benchmark_path("fig3")
        conda:
            CONDA_ENV
        params:
            figure=FIGURES["fig3"],
            axes=grid_axes(FIGURES["fig3"]["sweep"]),
            code=script_code("fig3"),
        script:
            "../scripts/fig3.py"


if FIGURES["fig4"] is not None:

    rule fig4:
        input:
            sweep_outputs(FIGURES["fig4"]["sweep"], "summary.csv", corruptions=False),
        output:
            png=figure_report(f"{RESULTS}/figures/fig4.png", "fig4"),
            pdf=figure_report(f"{RESULTS}/figures/fig4.pdf", "fig4"),
        log:
            log_path("fig4"),
        benchmark:
            benchmark_path("fig4")
        conda:
            CONDA_ENV
        params:
            figure=FIGURES["fig4"],
            sigmas=SWEEPS[FIGURES["fig4"]["sweep"]]["sigmas"],
            axes=grid_axes(FIGURES["fig4"]["sweep"]),
            code=script_code("fig4"),
        script:
            "../scripts/fig4.py"


if FIGURES["fig1"] is not None:
    FIG1 = FIGURES["fig1"]

    rule fig1_cams:
        input:
            inputs=f"{RESULTS}/inputs/sigma{sigma_label(FIG1['sigma'])}.h5",
            selection=rules.select_images.output.h5,
            backbone=WEIGHTS["backbone"],
            pmodules=WEIGHTS["pmodules"],
            weights_identity=WEIGHTS["identity"],
        output:
            f"{RESULTS}/figures/fig1_cams.h5",
        log:
            log_path("fig1_cams"),
        benchmark:
            benchmark_path("fig1_cams")
        conda:
            CONDA_ENV
        threads: NETWORK_JOBS.cpus
        resources:
            **NETWORK_JOBS.resources(JobSize(count_images(FIG1["images"], config["selection"]["n_images"]), STATES)),
        params:
            # What the maps depend on; fig1.timesteps only chooses the columns drawn.
            figure={key: value for key, value in FIG1.items() if key != "timesteps"},
            spec=config["model"]["spec"],
            gradient_scaling=config["model"]["gradient_scaling"],
            precision=config["model"]["precision"],
            timesteps=config["dynamics"]["timesteps"],
            thresholds=config["scores"]["thresholds"],
            code=script_code("fig1_cams"),
        script:
            "../scripts/fig1_cams.py"

    rule fig1:
        input:
            rules.fig1_cams.output[0],
        output:
            png=figure_report(f"{RESULTS}/figures/fig1.png", "fig1"),
            pdf=figure_report(f"{RESULTS}/figures/fig1.pdf", "fig1"),
        log:
            log_path("fig1"),
        benchmark:
            benchmark_path("fig1")
        conda:
            CONDA_ENV
        params:
            timesteps=FIG1["timesteps"],
            code=script_code("fig1"),
        script:
            "../scripts/fig1.py"
