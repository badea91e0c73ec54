"""Snakemake job: the mechanism figure and the controls' Figure 2 at one noise level or corruption."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig_mechanism import figure_mechanism


def main() -> None:
    params, output = snakemake.params, snakemake.output
    figure_mechanism(
        {name: Path(path) for name, path in zip(("recovery", "controls", "link", "per_image"), snakemake.input.stats)},
        {c: Path(snakemake.input.summaries[k]) for k, c in enumerate(params.conditions)},
        [Path(output.png), Path(output.pdf)],
        [Path(output.controls_png), Path(output.controls_pdf)],
        Path(output.controls_table),
        layer=params.layer,
        metric=params.metric,
        parameter=params.parameter,
        scatter_timestep=params.scatter_timestep,
        alpha=params.alpha,
        perturbation=params.perturbation,
        error=params.error,
    )


run_job(snakemake, main)
