# Sweeps: grids of configurations, run in chunks (sweep_chunk), merged into one long table per
# sweep and perturbation (sweep_merge; a noise level or a corruption), summarised per grid cell
# (sweep_summary).
#
# The chunk plan looks at the chunks already on disk (pcgc.spec.sweeps.plan_chunks): finished chunks
# are kept, and only configurations no chunk covers yet are split into new chunks of
# extraction.chunk_size. So the chunk size, like the device and batch size, reruns nothing.

SWEEPS = config["sweeps"]
HAS_FEEDBACK = NETWORKS[config["model"]["spec"]].has_feedback
# The scores every chunk computes on the device (scores.sweep_metrics at their parameters).
SWEEP_SCORES = [score.as_dict() for score in configured_scores(config["scores"], config["scores"]["sweep_metrics"])]
SWEEP_CELLS = {name: sweep_cells(sweep, HAS_FEEDBACK) for name, sweep in SWEEPS.items()}


# Per sweep and perturbation (a noise level, or a corruption in its place). A chunk's name is a
# hash of its configurations alone: the same grid plans the same chunks at every perturbation.
SWEEP_PLANS = {
    (name, perturbation.label): plan_chunks(
        unique_configurations(SWEEP_CELLS[name]),
        existing_chunks(Path(sweep_folder(name, perturbation.label)) / "chunks"),
        config["extraction"]["chunk_size"],
    )
    for name, sweep in SWEEPS.items()
    for perturbation in sweep_perturbations(sweep)
}


# extraction.device, batch_size and chunk_size are read by the script from the config: they change
# how fast, not what (tests check that), so changing them reruns nothing.
rule sweep_chunk:
    input:
        inputs=f"{RESULTS}/inputs/{{perturbation}}.h5",
        selection=rules.select_images.output.h5,
        backbone=WEIGHTS["backbone"],
        pmodules=WEIGHTS["pmodules"],
        weights_identity=WEIGHTS["identity"],
    output:
        h5=f"{RESULTS}/sweeps/{{sweep}}/{{perturbation}}/chunks/{{chunk}}.h5",
        manifest=f"{RESULTS}/sweeps/{{sweep}}/{{perturbation}}/chunks/{{chunk}}.json",
    log:
        log_path("sweeps/{sweep}/{perturbation}/chunks/{chunk}"),
    benchmark:
        benchmark_path("sweeps/{sweep}/{perturbation}/chunks/{chunk}")
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
        f"{RESULTS}/sweeps/{{sweep}}/{{perturbation}}/scores.parquet",
    log:
        log_path("sweeps/{sweep}/{perturbation}/merge"),
    benchmark:
        benchmark_path("sweeps/{sweep}/{perturbation}/merge")
    conda:
        CONDA_ENV
    params:
        cells=lambda wildcards: [cell.as_dict() for cell in SWEEP_CELLS[wildcards.sweep]],
        kind=lambda wildcards: SWEEPS[wildcards.sweep]["kind"],
        perturbation=perturbation_columns,
        code=script_code("sweep_merge"),
    script:
        "../scripts/sweep_merge.py"


rule sweep_maps:
    input:
        sweep_chunks,
    output:
        f"{RESULTS}/sweeps/{{sweep}}/{{perturbation}}/maps.h5",
    log:
        log_path("sweeps/{sweep}/{perturbation}/maps"),
    benchmark:
        benchmark_path("sweeps/{sweep}/{perturbation}/maps")
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
        table_report(f"{RESULTS}/sweeps/{{sweep}}/{{perturbation}}/summary.csv", "sweep_summary"),
    log:
        log_path("sweeps/{sweep}/{perturbation}/summary"),
    benchmark:
        benchmark_path("sweeps/{sweep}/{perturbation}/summary")
    conda:
        CONDA_ENV
    params:
        bootstrap=config["bootstrap"],
        code=script_code("sweep_summary"),
    script:
        "../scripts/sweep_summary.py"
