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

The store, the output's temporary file and the output have one writer at a time: a job holds
`exclusive_writer(output)` (a lock on `<output>.lock`) while it writes them (the stage functions
through `sole_writer`). Snakemake's own lock
keeps two runs from running the same job at once, unless a user forces it (`--unlock` while jobs
of a killed run still run): the second writer then stops with `OutputBusy` before it reads, discards
or writes anything of the first's. The lock is the kernel's (flock; on NFS, Linux turns it into a
lock the server keeps, seen from every node), so a killed writer releases it.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)

KEY_FILE = "key.json"

P = ParamSpec("P")
R = TypeVar("R")


class OutputBusy(RuntimeError):
    """Another process writes the same output (and its resumable batches) right now."""


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


def _open_locked(path: Path) -> int | None:
    """A descriptor of `path` holding its exclusive lock, or None if another process holds it.
    The file a releasing writer removes (after its lock) may be the one opened: then again, on the
    file now under that name."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextmanager
def exclusive_writer(output: Path) -> Iterator[None]:
    """Be the only writer of `output`, its temporary file and its resumable batches for the block:
    raises OutputBusy, naming the lock file and its holder, when another process is one."""
    path = lock_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_locked(path)
    if fd is None:
        try:
            holder = path.read_text().strip() or "a process that has not said which yet"
        except OSError:
            holder = "a process that has just finished"
        raise OutputBusy(
            f"{output}: another job writes this output now ({holder}; it holds the lock {path}), so its resumable "
            f"batches in {output.name}.batches are left to it. Two runs are running the same job: let the other one "
            "finish, or stop it, and run again"
        )
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)  # before the lock goes: a waiting writer then takes a new file
        os.close(fd)


def sole_writer(argument: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated stage function as the only writer (`exclusive_writer`) of the output that
    its keyword argument `argument` names, from its first step (before it reads or writes
    anything beside that output) to its last (the batches' removal)."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def alone(*args: P.args, **kwargs: P.kwargs) -> R:
            if argument not in kwargs:
                raise TypeError(f"{function.__qualname__}: the output `{argument}` must be given by keyword")
            with exclusive_writer(Path(kwargs[argument])):
                return function(*args, **kwargs)

        return alone

    return decorate


def package_code_hash() -> str:
    """sha256 over pcgc's Python sources: batches computed by other code are not reused."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class BatchStore:
    """The finished batches of the job writing `output`, valid for the job described by `key`.
    The job holds `exclusive_writer(output)` while it uses them."""

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
