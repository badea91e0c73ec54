"""Snakemake job: bootstrap statistics of every score per timestep, and its paired change from t = 0
(one hyperparameter set, one noise level or corruption)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.bootstrap import summarize


def main() -> None:
    settings = snakemake.params.bootstrap
    summarize(
        Path(snakemake.input[0]),
        Path(snakemake.output[0]),
        resamples=settings["resamples"],
        seed=settings["seed"],
        confidence=settings["confidence"],
        hyperparameter_set=snakemake.wildcards.hps,
        perturbation=snakemake.params.perturbation,
    )


run_job(snakemake, main)
