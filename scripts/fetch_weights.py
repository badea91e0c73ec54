"""Snakemake job: fetch and verify the published PVGG16 weights."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.storage.fetch import Source, fetch_weights


def main() -> None:
    settings = snakemake.config["weights"]
    fetch_weights(
        Path(snakemake.output.manifest).parent,
        backbone=Source(**settings["backbone"]),
        feedback_archive=Source(**settings["feedback_archive"]),
        timeout=settings["timeout"],
        retries=settings["retries"],
    )


run_job(snakemake, main)
