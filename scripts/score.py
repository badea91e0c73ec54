"""Snakemake job: every score of each CAM against its object mask, per image, timestep, method and layer
(one hyperparameter set, one noise level or corruption)."""

from pathlib import Path

from pcgc.spec.metrics import configured_scores
from pcgc.stages import run_job
from pcgc.stages.score import score_extraction


def main() -> None:
    score_extraction(
        Path(snakemake.input.extraction),
        Path(snakemake.input.selection),
        configured_scores(snakemake.params.scores),
        Path(snakemake.output[0]),
        hyperparameter_set=snakemake.wildcards.hps,
        perturbation=snakemake.params.perturbation,
    )


run_job(snakemake, main)
