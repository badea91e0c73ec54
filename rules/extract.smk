# extraction.device and extraction.batch_size are read by the script from the config: they change
# how fast, not what, so changing them reruns nothing (results are batch-invariant by design).
#
# One extraction per hyperparameter set and perturbation: a noise level (`sigma{s}`, inputs from
# noisy_inputs) or an ImageNet-C corruption (`corruptions/{family}/severity{n}`, inputs from
# corrupted_inputs; the CAMs and images of corruptions.analysis).


rule extract:
    input:
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
    wildcard_constraints:
        hps=SET_NAME,  # a named set; its conditions (`{set}@{condition}`) are extract_conditions'
    conda:
        CONDA_ENV
    threads: NETWORK_JOBS.cpus
    resources:
        **NETWORK_JOBS.resources(extraction_size),
    params:
        hps=extraction_hyperparameters,
        spec=config["model"]["spec"],
        gradient_scaling=config["model"]["gradient_scaling"],
        precision=config["model"]["precision"],
        timesteps=config["dynamics"]["timesteps"],
        cam=extraction_cam,
        images=extraction_images,
        code=script_code("extract"),
    script:
        "../scripts/extract.py"


if MECHANISM is not None:

    # The mechanism's conditions (docs/mechanism.md) at one of its perturbations: one job writes
    # every condition's file, `{set}@{condition}`, so that each image batch's t = 0 (the same
    # feedforward pass under every condition) is computed once. The conditions are the outputs'
    # names, not a param.
    rule extract_conditions:
        input:
            unpack(mechanism_inputs),
            selection=rules.select_images.output.h5,
            backbone=WEIGHTS["backbone"],
            pmodules=WEIGHTS["pmodules"],
            weights_identity=WEIGHTS["identity"],
        output:
            **{
                condition: f"{RESULTS}/extract/{condition_name(condition)}/{{perturbation}}.h5"
                for condition in mechanism_conditions()
            },
        log:
            log_path("extract_conditions/{perturbation}"),
        benchmark:
            benchmark_path("extract_conditions/{perturbation}")
        conda:
            CONDA_ENV
        threads: NETWORK_JOBS.cpus
        resources:
            **NETWORK_JOBS.resources(mechanism_extraction_size),
        params:
            set_name=MECHANISM["hyperparameter_set"],
            hps=config["hyperparameters"][MECHANISM["hyperparameter_set"]],
            # Read by a control (random and shuffled feedback), but given to the job whatever the
            # controls, so that a control fewer reruns nothing: the remaining files would not change.
            seed=MECHANISM["seed"],
            shuffle_group=MECHANISM["shuffle_group"],
            recovery=MECHANISM["recovery"],
            spec=config["model"]["spec"],
            gradient_scaling=config["model"]["gradient_scaling"],
            precision=config["model"]["precision"],
            timesteps=config["dynamics"]["timesteps"],
            cam=MECHANISM_CAM,
            images=image_subset_param(MECHANISM["n_images"]),
            code=script_code("extract_conditions"),
        script:
            "../scripts/extract_conditions.py"
