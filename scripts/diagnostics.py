"""Snakemake job: the convergence diagnostics figure of one hyperparameter set and perturbation."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.diagnostics import diagnostics_figure


def main() -> None:
    diagnostics_figure(
        Path(snakemake.input.extraction),
        Path(snakemake.input.scores),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        threshold=snakemake.params.threshold,
        hyperparameter_set=snakemake.wildcards.hps,
        perturbation=snakemake.params.perturbation,
    )


run_job(snakemake, main)
