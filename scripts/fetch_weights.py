"""Snakemake job: fetch and verify the published weights of the configured network."""

from pathlib import Path

from pcgc.spec.networks import fetched_network
from pcgc.stages import run_job
from pcgc.storage.fetch import Source, fetch_weights


def main() -> None:
    # The validated config names every source in full (pcgc.spec.config.weight_sources).
    settings = snakemake.config["weights"]
    archive = dict(settings["feedback_archive"])
    members = archive.pop("members", None)
    fetch_weights(
        Path(snakemake.output.manifest).parent,
        fetched_network(snakemake.config["model"]["spec"]),
        backbone=Source(**settings["backbone"]),
        feedback_archive=Source(**archive),
        feedback_members=members,
        timeout=settings["timeout"],
        retries=settings["retries"],
    )


run_job(snakemake, main)
