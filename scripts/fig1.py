"""Snakemake job: Figure 1 (Grad-CAMs over time of a few noisy images)."""

from pathlib import Path

from pcgc.stages.figure1 import figure1
from pcgc.workflow import run_job


def main() -> None:
    figure1(
        Path(snakemake.input[0]),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        timesteps=snakemake.params.timesteps,
    )


run_job(snakemake, main)
