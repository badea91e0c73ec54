"""Snakemake job: fetch and verify the published PVGG16 weights."""

from pathlib import Path

from pcgc.fetch import Source, fetch_weights
from pcgc.workflow import run_job


def main() -> None:
    fetch_weights(
        Path(snakemake.output.manifest).parent,
        backbone=Source(**snakemake.params.backbone),
        feedback_archive=Source(**snakemake.params.feedback_archive),
        timeout=snakemake.params.timeout,
        retries=snakemake.params.retries,
    )


run_job(snakemake, main)
