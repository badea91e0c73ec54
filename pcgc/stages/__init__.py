"""The workflow's stages: one module per rule, named after it (`pcgc.stages.extract` is what the
rule `extract` runs through `scripts/extract.py`).

This package's own code is the glue between a Snakemake job and its stage, `run_job`: logging
into the rule's log file. It is kept free of heavy imports (torch) so that light jobs start fast.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Any, Callable, TextIO


class _ProgressToLog:
    """stderr for the job's duration: everything goes on to the real stderr, and each progress
    line (tqdm redraws its bar after a carriage return) is also logged, so that the rule's log file
    shows how far a long job has come while it runs, not only when it ends."""

    def __init__(self, stream: TextIO, logger: logging.Logger) -> None:
        self.stream, self.logger, self.last = stream, logger, ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        for line in text.replace("\r", "\n").split("\n"):
            line = line.strip()
            if line and line != self.last:
                self.logger.info("%s", line)
                self.last = line
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def run_job(snakemake: Any, job: Callable[[], None]) -> None:
    """Run `job` with pcgc's log records, and its progress bars, going to the rule's log file (and
    to stderr)."""
    stderr = sys.stderr
    handlers: list[logging.Handler] = [logging.StreamHandler(stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(snakemake.log[0], mode="w"))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s", handlers=handlers, force=True
    )
    progress = logging.getLogger("pcgc.progress")
    progress.propagate = False  # already on stderr: only the log file gets it
    progress.handlers = handlers[1:]
    sys.stderr = _ProgressToLog(stderr, progress)
    try:
        job()
    except Exception:
        logging.getLogger("pcgc").error("job %s failed:\n%s", snakemake.rule, traceback.format_exc())
        raise
    finally:
        sys.stderr = stderr
