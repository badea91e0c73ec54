"""Snakemake job: generate the demo world (ImageNet-S layout) from the `demo` config section."""

from pathlib import Path

from pcgc.data.demo_world import DemoWorldConfig, generate_demo_world
from pcgc.stages import run_job


def main() -> None:
    generate_demo_world(Path(snakemake.output[0]), DemoWorldConfig(**snakemake.params.world))


run_job(snakemake, main)
