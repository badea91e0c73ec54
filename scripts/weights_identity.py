"""Snakemake job: record what fixes the fetched weights' content (rules/world.smk says why)."""

import json
import logging

from pcgc.stages import run_job
from pcgc.storage.atomic import atomic_path


def main() -> None:
    identity = snakemake.params.identity
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(json.dumps(identity, indent=2, sort_keys=True) + "\n")
    logging.getLogger("pcgc").info("weights identity: %s", identity)


run_job(snakemake, main)
