"""Finished batches of a long job, kept beside its output so that a killed job resumes.

A job that is killed (a cluster's time limit, preemption, `kill -9`) leaves no output: outputs are
written atomically (`pcgc.storage.atomic`). Without more, its rerun starts from nothing. A `BatchStore`
keeps each finished batch's arrays in `<output>.batches/`, one file per batch, each written
atomically, so a batch file is complete or absent whatever moment the job dies at. The rerun loads
the batches it finds and computes only the others; the output is then identical to an
uninterrupted run's, because every batch is computed by the same code on the same inputs with the
same batch boundaries.

A batch is named by the job: `extract` by its image range, a sweep chunk by its image range and
the engine's device batch within it (`batch_name`).

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

from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)

KEY_FILE = "key.json"


def package_code_hash() -> str:
    """sha256 over pcgc's Python sources: batches computed by other code are not reused."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class BatchStore:
    """The finished batches of the job writing `output`, valid for the job described by `key`."""

    def __init__(self, output: Path, key: Mapping[str, Any]) -> None:
        self.folder = output.with_name(output.name + ".batches")
        self.key = json.loads(json.dumps({**key, "code": package_code_hash()}, sort_keys=True))
        self.loaded: list[str] = []
        self.saved: list[str] = []
        key_path = self.folder / KEY_FILE
        if self.folder.exists():
            try:
                stored = json.loads(key_path.read_text())
            except (OSError, ValueError):  # absent or unreadable: nothing says whose batches these are
                stored = None
            if stored != self.key:
                log.info("%s: left by a job with other settings, inputs or code; discarded", self.folder)
                shutil.rmtree(self.folder)
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            with atomic_path(key_path) as tmp:
                tmp.write_text(json.dumps(self.key, sort_keys=True))

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.npz"

    def load(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of batch `name` if a previous run finished it, else None."""
        path = self._path(name)
        if not path.exists():
            return None
        with np.load(path) as batch:
            arrays = {key: batch[key] for key in batch.files}
        self.loaded.append(name)
        return arrays

    def save(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        with atomic_path(self._path(name)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        self.saved.append(name)

    def remove(self) -> None:
        """Once the output is complete, the batches are no longer needed."""
        if self.loaded:
            log.info("resumed: %d batch(es) came from %s: %s", len(self.loaded), self.folder, ", ".join(self.loaded))
            log.info("computed: %d batch(es): %s", len(self.saved), ", ".join(self.saved) or "none")
        shutil.rmtree(self.folder, ignore_errors=True)


def batch_name(start: int, stop: int, block: int | None = None) -> str:
    """The name of image batch [start, stop) (and of device batch `block` within it)."""
    name = f"images{start:08d}-{stop:08d}"
    return name if block is None else f"{name}-block{block:06d}"
