# extraction.device and extraction.batch_size are read by the script from the config: they change
# how fast, not what, so changing them reruns nothing (results are batch-invariant by design).
#
# One extraction per hyperparameter set (or mechanism condition, `{set}@{condition}`) and
# perturbation: a noise level (`sigma{s}`, inputs from noisy_inputs) or an ImageNet-C corruption
# (`corruptions/{family}/severity{n}`, inputs from corrupted_inputs; the CAMs and images of
# corruptions.analysis).


rule extract:
    input:
        unpack(clean_inputs),
        inputs=f"{RESULTS}/inputs/{{perturbation}}.h5",
        selection=rules.select_images.output.h5,
        backbone=WEIGHTS["backbone"],
        pmodules=WEIGHTS["pmodules"],
        weights_identity=WEIGHTS["identity"],
    output:
        f"{RESULTS}/extract/{{hps}}/{{perturbation}}.h5",
    log:
        log_path("extract/{hps}/{perturbation}"),
    benchmark:
        benchmark_path("extract/{hps}/{perturbation}")
    conda:
        CONDA_ENV
    threads: NETWORK_JOBS.cpus
    resources:
        **NETWORK_JOBS.resources(extraction_size),
    params:
        hps=extraction_hyperparameters,
        condition=extraction_condition,
        spec=config["model"]["spec"],
        gradient_scaling=config["model"]["gradient_scaling"],
        precision=config["model"]["precision"],
        timesteps=config["dynamics"]["timesteps"],
        cam=extraction_cam,
        images=extraction_images,
        code=script_code("extract"),
    script:
        "../scripts/extract.py"
