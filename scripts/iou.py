"""Snakemake job: IoU of each Grad-CAM with its object mask, per image, timestep and threshold."""

from pathlib import Path

from pcgc.stages.score import score_iou
from pcgc.workflow import run_job


def main() -> None:
    score_iou(
        Path(snakemake.input.extraction),
        Path(snakemake.input.selection),
        list(snakemake.params.thresholds),
        Path(snakemake.output[0]),
    )


run_job(snakemake, main)
