"""Snakemake job: the convergence diagnostics figure of one hyperparameter set and noise level."""

from pathlib import Path

from pcgc.stages.diagnostics import diagnostics_figure
from pcgc.workflow import run_job


def main() -> None:
    diagnostics_figure(
        Path(snakemake.input.extraction),
        Path(snakemake.input.scores),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        threshold=snakemake.params.threshold,
        hyperparameter_set=snakemake.wildcards.hps,
        sigma=snakemake.params.sigma,
    )


run_job(snakemake, main)
