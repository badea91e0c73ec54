"""Snakemake job: one hyperparameter set's top-1 errors, CE and mCE over its corruption branches,
and their bootstrap tables joined."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.robustness import robustness


def main() -> None:
    settings = snakemake.params.bootstrap
    robustness(
        [Path(p) for p in snakemake.input.extractions],
        [Path(p) for p in snakemake.input.summaries],
        snakemake.params.branches,
        Path(snakemake.output.errors),
        Path(snakemake.output.ce),
        Path(snakemake.output.localisation),
        hyperparameter_set=snakemake.wildcards.hps,
        resamples=settings["resamples"],
        seed=settings["seed"],
        confidence=settings["confidence"],
        alexnet=snakemake.params.alexnet,
    )


run_job(snakemake, main)
