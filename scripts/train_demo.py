"""Snakemake job: train the demo world's `mini` PVGG (classifier, then feedback predictors)."""

import json
from pathlib import Path

from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import read_class_list
from pcgc.stages import run_job
from pcgc.stages.train_demo import TrainingConfig, train_demo_network
from pcgc.storage.atomic import atomic_path


def main() -> None:
    world = Path(snakemake.input.world)
    metrics = train_demo_network(
        world,
        read_class_list(world / "ImageNetS_categories_demo.txt"),
        Geometry(resize=snakemake.params.resize, crop=snakemake.params.crop),
        TrainingConfig(**snakemake.params.training),
        Path(snakemake.output.backbone),
        [Path(p) for p in snakemake.output.pmodules],
    )
    with atomic_path(snakemake.output.metrics) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2))


run_job(snakemake, main)
