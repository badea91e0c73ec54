"""Snakemake job: bootstrap statistics of the IoU per timestep."""

from pathlib import Path

from pcgc.stages.summarize import summarize
from pcgc.workflow import run_job


def main() -> None:
    settings = snakemake.params.bootstrap
    summarize(
        Path(snakemake.input[0]),
        Path(snakemake.output[0]),
        resamples=settings["resamples"],
        seed=settings["seed"],
        confidence=settings["confidence"],
        hyperparameter_set=snakemake.wildcards.hps,
        sigma=snakemake.params.sigma,
    )


run_job(snakemake, main)
