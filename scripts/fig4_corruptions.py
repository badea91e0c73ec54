"""Snakemake job: Figure 4 for one corruption family of a shared sweep (columns = severities)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig4_corruptions import figure4_corruption


def main() -> None:
    figure = snakemake.params.figure
    figure4_corruption(
        dict(zip(snakemake.params.severities, map(Path, snakemake.input))),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        **snakemake.params.axes,
        threshold=figure["threshold"],
        timesteps=figure["timesteps"],
        sweep=figure["sweep"],
        family=snakemake.wildcards.family,
    )


run_job(snakemake, main)
