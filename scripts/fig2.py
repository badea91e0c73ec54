"""Snakemake job: Figure 2 (one score over timesteps, one line per hyperparameter set, significance
against t = 0 marked) and its table."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.fig2 import figure2


def main() -> None:
    params = snakemake.params
    figure2(
        dict(zip(params.sets, map(Path, snakemake.input))),
        [Path(snakemake.output.png), Path(snakemake.output.pdf)],
        Path(snakemake.output.table),
        method=params.method,
        layer=params.layer,
        metric=params.metric,
        parameter=params.parameter,
        alpha=params.alpha,
        perturbation={"sigma": params.sigma},
        error=params.error,
    )


run_job(snakemake, main)
