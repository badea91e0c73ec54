rule noisy_inputs:
    input:
        selection=rules.select_images.output.h5,
    output:
        f"{RESULTS}/inputs/sigma{{sigma}}.h5",
    log:
        log_path("noisy_inputs/sigma{sigma}"),
    benchmark:
        benchmark_path("noisy_inputs/sigma{sigma}")
    conda:
        CONDA_ENV
    params:
        sigma=lambda wildcards: SIGMAS[wildcards.sigma],
        space=config["noise"]["space"],
        clip=config["noise"]["clip"],
        seed=config["noise"]["seed"],
        spec=config["model"]["spec"],
        code=script_code("noisy_inputs"),
    script:
        "../scripts/noisy_inputs.py"
