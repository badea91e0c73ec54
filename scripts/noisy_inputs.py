"""Snakemake job: normalized network inputs at one noise level."""

from pathlib import Path

from pcgc.modelinfo import MODELS
from pcgc.stages.inputs import write_inputs
from pcgc.workflow import run_job


def main() -> None:
    model = MODELS[snakemake.params.spec]
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
