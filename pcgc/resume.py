"""Finished batches of a long job, kept beside its output so that a killed job resumes.

A job that is killed (a cluster's time limit, preemption, `kill -9`) leaves no output: outputs are
written atomically (`pcgc.atomic`). Without more, its rerun starts from nothing. A `BatchStore`
keeps each finished batch's arrays in `<output>.batches/`, one file per batch, each written
atomically, so a batch file is complete or absent whatever moment the job dies at. The rerun loads
the batches it finds and computes only the others; the output is then identical to an
uninterrupted run's, because every batch is computed by the same code on the same inputs with the
same batch boundaries.

The store belongs to one exact job: its key (the job's settings, the sha256 of its input files,
its batch size, device and precision, and a hash of pcgc's code) is stored with it, and a store
with another key is discarded, never reused. The folder is removed once the output is complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pcgc.atomic import atomic_path

log = logging.getLogger(__name__)

KEY_FILE = "key.json"


def package_code_hash() -> str:
    """sha256 over pcgc's Python sources: batches computed by other code are not reused."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class BatchStore:
    """The finished batches of the job writing `output`, valid for the job described by `key`."""

    def __init__(self, output: Path, key: Mapping[str, Any]) -> None:
        self.folder = output.with_name(output.name + ".batches")
        self.key = json.loads(json.dumps({**key, "code": package_code_hash()}, sort_keys=True))
        self.loaded: list[tuple[int, int]] = []
        key_path = self.folder / KEY_FILE
        if self.folder.exists():
            stored = json.loads(key_path.read_text()) if key_path.exists() else None
            if stored != self.key:
                log.info("%s: left by a job with other settings, inputs or code; discarded", self.folder)
                shutil.rmtree(self.folder)
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            with atomic_path(key_path) as tmp:
                tmp.write_text(json.dumps(self.key, sort_keys=True))

    def _path(self, start: int, stop: int) -> Path:
        return self.folder / f"{start:08d}-{stop:08d}.npz"

    def load(self, start: int, stop: int) -> dict[str, np.ndarray] | None:
        """The arrays of batch [start, stop) if a previous run finished it, else None."""
        path = self._path(start, stop)
        if not path.exists():
            return None
        with np.load(path) as batch:
            arrays = {name: batch[name] for name in batch.files}
        self.loaded.append((start, stop))
        return arrays

    def save(self, start: int, stop: int, arrays: Mapping[str, np.ndarray]) -> None:
        with atomic_path(self._path(start, stop)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    def remove(self) -> None:
        """Once the output is complete, the batches are no longer needed."""
        if self.loaded:
            ranges = ", ".join(f"[{a}, {b})" for a, b in self.loaded)
            log.info("resumed: %d batch(es) of images %s came from %s", len(self.loaded), ranges, self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)
