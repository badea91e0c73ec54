"""Snakemake job: Figure 2 (mean IoU over timesteps, one line per hyperparameter set)."""

from pathlib import Path

from pcgc.stages.figure2 import figure2
from pcgc.workflow import run_job


def main() -> None:
    figure2(
        dict(zip(snakemake.params.sets, map(Path, snakemake.input))),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        threshold=snakemake.params.threshold,
        sigma=snakemake.params.sigma,
        error=snakemake.params.error,
    )


run_job(snakemake, main)
