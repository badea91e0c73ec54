"""Snakemake job: normalized network inputs corrupted by one ImageNet-C family at one severity."""

from pathlib import Path

from pcgc.spec.networks import NETWORKS
from pcgc.stages import run_job
from pcgc.stages.corrupted_inputs import write_corrupted_inputs


def main() -> None:
    model = NETWORKS[snakemake.params.spec]
    write_corrupted_inputs(
        Path(snakemake.input.selection),
        Path(snakemake.output[0]),
        family=snakemake.params.family,
        severity=snakemake.params.severity,
        seed=snakemake.params.seed,
        frost_textures=snakemake.params.frost_textures,
        mean=model.mean,
        std=model.std,
    )


run_job(snakemake, main)
