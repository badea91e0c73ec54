"""Snakemake job: Figure 1 (Grad-CAMs over time of a few noisy images)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig1 import figure1


def main() -> None:
    figure1(
        Path(snakemake.input[0]),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        timesteps=snakemake.params.timesteps,
    )


run_job(snakemake, main)
