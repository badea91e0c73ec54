"""Snakemake job: normalized network inputs at one noise level."""

from pathlib import Path

from pcgc.spec.networks import NETWORKS
from pcgc.stages import run_job
from pcgc.stages.noisy_inputs import write_inputs


def main() -> None:
    model = NETWORKS[snakemake.params.spec]
    mean, std = model.mean, model.std
    write_inputs(
        Path(snakemake.input.selection),
        Path(snakemake.output[0]),
        sigma=snakemake.params.sigma,
        space=snakemake.params.space,
        clip=snakemake.params.clip,
        seed=snakemake.params.seed,
        mean=mean,
        std=std,
    )


run_job(snakemake, main)
