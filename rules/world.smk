# The world the analysis runs on: images with masks, and the network's weights.
# demo: both are built here, offline. (imagenet_s: a user's dataset and fetched weights.)

DEMO_WORLD = f"{RESULTS}/world"
DEMO_WEIGHTS = f"{RESULTS}/weights"
NUM_PCODERS = 5


if config["world"] == "demo":
    WORLD = {
        "root": DEMO_WORLD,
        "categories": f"{DEMO_WORLD}/ImageNetS_categories_demo.txt",
        "mapping": None,
        "classifier_wnids": "dataset",
    }
    WEIGHTS = {
        "backbone": f"{DEMO_WEIGHTS}/mini_backbone.pth",
        "pmodules": [f"{DEMO_WEIGHTS}/mini_demo_pc{n}_pmodule.pth" for n in range(1, NUM_PCODERS + 1)],
    }


rule demo_world:
    output:
        directory(DEMO_WORLD),
    params:
        world={k: v for k, v in config["demo"].items() if k != "training"},
        code=code_fingerprint("pcgc.data.demo_world"),
    log:
        log_path("demo_world"),
    benchmark:
        benchmark_path("demo_world")
    script:
        "../scripts/demo_world.py"


rule train_demo:
    input:
        world=DEMO_WORLD,
    output:
        backbone=f"{DEMO_WEIGHTS}/mini_backbone.pth",
        pmodules=[f"{DEMO_WEIGHTS}/mini_demo_pc{n}_pmodule.pth" for n in range(1, NUM_PCODERS + 1)],
        metrics=f"{DEMO_WEIGHTS}/training.json",
    params:
        training=config["demo"]["training"],
        resize=config["selection"]["resize"],
        crop=config["selection"]["crop"],
        code=code_fingerprint("pcgc.training"),
    threads: workflow.cores
    log:
        log_path("train_demo"),
    benchmark:
        benchmark_path("train_demo")
    script:
        "../scripts/train_demo.py"
