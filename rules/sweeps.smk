# Sweeps: grids of configurations, run in chunks (sweep_chunk), merged into one long table per
# sweep and noise level (sweep_merge), summarised per grid cell (sweep_summary).
#
# The chunk plan looks at the chunks already on disk (pcgc.spec.sweeps.plan_chunks): finished chunks
# are kept, and only configurations no chunk covers yet are split into new chunks of
# extraction.chunk_size. So the chunk size, like the device and batch size, reruns nothing.

SWEEPS = config["sweeps"]
HAS_FEEDBACK = NETWORKS[config["model"]["spec"]].has_feedback
# The scores every chunk computes on the device (scores.sweep_metrics at their parameters).
SWEEP_SCORES = [score.as_dict() for score in configured_scores(config["scores"], config["scores"]["sweep_metrics"])]
SWEEP_CELLS = {name: sweep_cells(sweep, HAS_FEEDBACK) for name, sweep in SWEEPS.items()}


SWEEP_PLANS = {
    (name, sigma_label(sigma)): plan_chunks(
        unique_configurations(SWEEP_CELLS[name]),
        existing_chunks(Path(sweep_folder(name, sigma_label(sigma))) / "chunks"),
        config["extraction"]["chunk_size"],
    )
    for name, sweep in SWEEPS.items()
    for sigma in sweep["sigmas"]
}


# extraction.device, batch_size and chunk_size are read by the script from the config: they change
# how fast, not what (tests check that), so changing them reruns nothing.
rule sweep_chunk:
    input:
        inputs=rules.noisy_inputs.output[0],
        selection=rules.select_images.output.h5,
        backbone=WEIGHTS["backbone"],
        pmodules=WEIGHTS["pmodules"],
        weights_identity=WEIGHTS["identity"],
    output:
        h5=f"{RESULTS}/sweeps/{{sweep}}/sigma{{sigma}}/chunks/{{chunk}}.h5",
        manifest=f"{RESULTS}/sweeps/{{sweep}}/sigma{{sigma}}/chunks/{{chunk}}.json",
    log:
        log_path("sweeps/{sweep}/sigma{sigma}/chunks/{chunk}"),
    benchmark:
        benchmark_path("sweeps/{sweep}/sigma{sigma}/chunks/{chunk}")
    conda:
        CONDA_ENV
    threads: NETWORK_JOBS.cpus
    resources:
        **NETWORK_JOBS.resources(chunk_job_size),
    params:
        configurations=chunk_configurations,
        n_images=lambda wildcards: SWEEPS[wildcards.sweep]["n_images"],
        store_maps=lambda wildcards: SWEEPS[wildcards.sweep]["store_maps"],
        image_seed=config["selection"]["seed"],
        spec=config["model"]["spec"],
        gradient_scaling=config["model"]["gradient_scaling"],
        precision=config["model"]["precision"],
        timesteps=config["dynamics"]["timesteps"],
        scores=SWEEP_SCORES,
        code=script_code("sweep_chunk"),
    script:
        "../scripts/sweep_chunk.py"


rule sweep_merge:
    input:
        sweep_chunks,
    output:
        f"{RESULTS}/sweeps/{{sweep}}/sigma{{sigma}}/scores.parquet",
    log:
        log_path("sweeps/{sweep}/sigma{sigma}/merge"),
    benchmark:
        benchmark_path("sweeps/{sweep}/sigma{sigma}/merge")
    conda:
        CONDA_ENV
    params:
        cells=lambda wildcards: [cell.as_dict() for cell in SWEEP_CELLS[wildcards.sweep]],
        kind=lambda wildcards: SWEEPS[wildcards.sweep]["kind"],
        sigma=lambda wildcards: SIGMAS[wildcards.sigma],
        code=script_code("sweep_merge"),
    script:
        "../scripts/sweep_merge.py"


rule sweep_maps:
    input:
        sweep_chunks,
    output:
        f"{RESULTS}/sweeps/{{sweep}}/sigma{{sigma}}/maps.h5",
    log:
        log_path("sweeps/{sweep}/sigma{sigma}/maps"),
    benchmark:
        benchmark_path("sweeps/{sweep}/sigma{sigma}/maps")
    conda:
        CONDA_ENV
    params:
        cells=lambda wildcards: [cell.as_dict() for cell in SWEEP_CELLS[wildcards.sweep]],
        code=script_code("sweep_maps"),
    script:
        "../scripts/sweep_maps.py"


rule sweep_summary:
    input:
        rules.sweep_merge.output[0],
    output:
        table_report(f"{RESULTS}/sweeps/{{sweep}}/sigma{{sigma}}/summary.csv", "sweep_summary"),
    log:
        log_path("sweeps/{sweep}/sigma{sigma}/summary"),
    benchmark:
        benchmark_path("sweeps/{sweep}/sigma{sigma}/summary")
    conda:
        CONDA_ENV
    params:
        bootstrap=config["bootstrap"],
        code=script_code("sweep_summary"),
    script:
        "../scripts/sweep_summary.py"
