# The world the analysis runs on: images with masks, and the network's weights.
#   demo:       both are built here, offline: a synthetic dataset in the ImageNet-S format and a
#               `mini` PVGG trained on it.
#   imagenet_s: the user's copy of ImageNet-S, and the network's published weights (fetch_weights).

# File names come from the networks' records (pcgc.spec.networks), as the fetch and the training
# read them: `mini` is the network the demo trains, FETCHED the one whose published weights
# fetch_weights gets (model.spec in the ImageNet-S world).
MINI = NETWORKS["mini"]
FETCHED = fetched_network(config["model"]["spec"])
DEMO_WORLD = f"{RESULTS}/world"
DEMO_WEIGHTS = f"{RESULTS}/weights"
FETCHED_WEIGHTS = config["weights"]["directory"]

if config["world"] == "demo":
    WORLD = {
        "root": DEMO_WORLD,
        "categories": f"{DEMO_WORLD}/ImageNetS_categories_demo.txt",
        "mapping": None,
        "subset": "validation",
        "classifier": "dataset",  # the classifier's classes are the dataset's own
    }
    WEIGHTS = {
        "backbone": f"{DEMO_WEIGHTS}/{MINI.backbone_file()}",
        "pmodules": [f"{DEMO_WEIGHTS}/{name}" for name in MINI.pmodule_files()],
        "identity": [],  # trained here: the files' dates say when they changed
    }
else:
    WORLD = {**config["imagenet_s"], "classifier": "imagenet1k"}
    # The jobs that run the network depend on the published weights' content, not on how they
    # were fetched: they take the weight files as `ancient`, so that a refetch of the same files (a
    # mirror, an edit to the fetch code) reruns nothing, and identity.json (rule weights_identity),
    # which changes, and reruns them, only when what fixes the content changes.
    WEIGHTS = {
        "backbone": ancient(f"{FETCHED_WEIGHTS}/{FETCHED.backbone_file()}"),
        "pmodules": [ancient(f"{FETCHED_WEIGHTS}/{name}") for name in FETCHED.pmodule_files()],
        "identity": [f"{FETCHED_WEIGHTS}/identity.json"],
    }


rule demo_world:
    output:
        directory(DEMO_WORLD),
    log:
        log_path("demo_world"),
    benchmark:
        benchmark_path("demo_world")
    conda:
        CONDA_ENV
    params:
        world={k: v for k, v in config["demo"].items() if k != "training"},
        code=script_code("demo_world"),
    script:
        "../scripts/demo_world.py"


rule train_demo:
    input:
        world=DEMO_WORLD,
    output:
        backbone=f"{DEMO_WEIGHTS}/{MINI.backbone_file()}",
        pmodules=[f"{DEMO_WEIGHTS}/{name}" for name in MINI.pmodule_files()],
        metrics=diagnostic_report(f"{DEMO_WEIGHTS}/training.json", "training", "Weights"),
    log:
        log_path("train_demo"),
    benchmark:
        benchmark_path("train_demo")
    conda:
        CONDA_ENV
    # Training always runs TRAINING_THREADS torch threads (pcgc.spec.networks): its numbers depend on it.
    # (A local run gives a job at most --cores threads; `workflow.cores` is unknown on a cluster.)
    threads: TRAINING_THREADS
    params:
        training=config["demo"]["training"],
        resize=config["selection"]["resize"],
        crop=config["selection"]["crop"],
        code=script_code("train_demo"),
    script:
        "../scripts/train_demo.py"


rule fetch_weights:
    output:
        backbone=f"{FETCHED_WEIGHTS}/{FETCHED.backbone_file()}",
        pmodules=[f"{FETCHED_WEIGHTS}/{name}" for name in FETCHED.pmodule_files()],
        manifest=f"{FETCHED_WEIGHTS}/manifest.json",
    log:
        log_path("fetch_weights"),
    benchmark:
        benchmark_path("fetch_weights")
    # Runs on the submitting host: compute nodes often have no internet. Point weights.*.path at
    # local copies to fetch nothing at all.
    localrule: True
    conda:
        CONDA_ENV
    # The sources' locations, timeout and retries are read by the script from the config: they say
    # how to fetch, not what, so changing them reruns nothing.
    params:
        identity=weights_identity(config["weights"]),
        code=script_code("fetch_weights"),
    script:
        "../scripts/fetch_weights.py"


rule weights_identity:
    output:
        diagnostic_report(f"{FETCHED_WEIGHTS}/identity.json", "weights_identity", "Weights"),
    log:
        log_path("weights_identity"),
    benchmark:
        benchmark_path("weights_identity")
    conda:
        CONDA_ENV
    params:
        identity=weights_identity(config["weights"]),
        code=script_code("weights_identity"),
    script:
        "../scripts/weights_identity.py"
