"""Snakemake job: Figure 3 (one PCoder active at a time: heatmaps over the beta x lambda grid)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig3 import figure3


def main() -> None:
    figure = snakemake.params.figure
    figure3(
        Path(snakemake.input[0]),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        **snakemake.params.axes,
        threshold=figure["threshold"],
        timesteps=figure["timesteps"],
        sweep=figure["sweep"],
        sigma=figure["sigma"],
    )


run_job(snakemake, main)
