"""Glue between Snakemake jobs and pcgc: logging into the rule's log file.

Kept free of heavy imports (torch) so that light jobs start fast.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, Callable


def run_job(snakemake: Any, job: Callable[[], None]) -> None:
    """Run `job` with pcgc's log records going to the rule's log file (and to stderr)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s", handlers=handlers, force=True
    )
    try:
        job()
    except Exception:
        logging.getLogger("pcgc").error("job %s failed:\n%s", snakemake.rule, traceback.format_exc())
        raise
