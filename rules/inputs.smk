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


# One input file per ImageNet-C family and severity (config `corruptions`). The seed is a param of
# the random families only and the texture folder of frost only, so changing either reruns only
# the branches whose numbers depend on it; a new family or severity adds only its own branch. The
# script runs on extraction.device, read from the config: it changes how fast, not what.
rule corrupted_inputs:
    input:
        selection=rules.select_images.output.h5,
    output:
        f"{RESULTS}/inputs/corruptions/{{family}}/severity{{severity}}.h5",
    log:
        log_path("corrupted_inputs/{family}/severity{severity}"),
    benchmark:
        benchmark_path("corrupted_inputs/{family}/severity{severity}")
    wildcard_constraints:
        family="|".join(CORRUPTION_FAMILIES),
        severity="[1-5]",
    conda:
        CONDA_ENV
    params:
        family=lambda wildcards: wildcards.family,
        severity=lambda wildcards: int(wildcards.severity),
        seed=lambda wildcards: config["corruptions"]["seed"] if CORRUPTION_FAMILIES[wildcards.family].random else None,
        frost_textures=lambda wildcards: (
            config["corruptions"]["frost_textures"] if wildcards.family == "frost" else None
        ),
        spec=config["model"]["spec"],
        code=script_code("corrupted_inputs"),
    script:
        "../scripts/corrupted_inputs.py"
