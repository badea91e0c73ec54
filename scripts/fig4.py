"""Snakemake job: Figure 4 (every PCoder alike, per noise level: heatmaps over the beta x lambda grid)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig4 import figure4


def main() -> None:
    figure = snakemake.params.figure
    figure4(
        dict(zip(snakemake.params.sigmas, map(Path, snakemake.input))),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        **snakemake.params.axes,
        threshold=figure["threshold"],
        timesteps=figure["timesteps"],
        sweep=figure["sweep"],
    )


run_job(snakemake, main)
