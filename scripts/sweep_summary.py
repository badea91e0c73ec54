"""Snakemake job: per grid cell and timestep, mean scores, ratios to t = 0 and their bootstrap."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.sweep_summary import summarize_sweep


def main() -> None:
    settings = snakemake.params.bootstrap
    summarize_sweep(
        Path(snakemake.input[0]),
        Path(snakemake.output[0]),
        resamples=settings["resamples"],
        seed=settings["seed"],
        confidence=settings["confidence"],
    )


run_job(snakemake, main)
