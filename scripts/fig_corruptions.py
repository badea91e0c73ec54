"""Snakemake job: the corruption figures of one hyperparameter set (family x severity heatmap;
corruption error beside the score over time) and the curves' table."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig_corruptions import corruption_figures


def main() -> None:
    figure, settings, output = snakemake.params.figure, snakemake.params.bootstrap, snakemake.output
    corruption_figures(
        Path(snakemake.input.ce),
        Path(snakemake.input.localisation),
        [Path(p) for p in snakemake.input.scores],
        snakemake.params.branches,
        [Path(output.heatmap_png), Path(output.heatmap_pdf)],
        [Path(output.curves_png), Path(output.curves_pdf)],
        Path(output.table),
        hyperparameter_set=snakemake.wildcards.hps,
        families=snakemake.params.families,
        method=figure["method"],
        layer=figure["layer"],
        metric=figure["metric"],
        parameter=figure["parameter"],
        timesteps=figure["timesteps"],
        resamples=settings["resamples"],
        seed=settings["seed"],
        confidence=settings["confidence"],
    )


run_job(snakemake, main)
