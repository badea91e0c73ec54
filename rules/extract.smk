# extraction.device and extraction.batch_size are read by the script from the config: they change
# how fast, not what, so changing them reruns nothing (results are batch-invariant by design).


rule extract:
    input:
        unpack(clean_inputs),
        inputs=rules.noisy_inputs.output[0],
        selection=rules.select_images.output.h5,
        backbone=WEIGHTS["backbone"],
        pmodules=WEIGHTS["pmodules"],
        weights_identity=WEIGHTS["identity"],
    output:
        f"{RESULTS}/extract/{{hps}}/sigma{{sigma}}.h5",
    log:
        log_path("extract/{hps}/sigma{sigma}"),
    benchmark:
        benchmark_path("extract/{hps}/sigma{sigma}")
    conda:
        CONDA_ENV
    threads: NETWORK_JOBS.cpus
    resources:
        **NETWORK_JOBS.resources(JobSize(config["selection"]["n_images"], STATES)),
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
