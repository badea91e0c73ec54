"""Outputs that are complete or absent: write to a temporary name, rename only on success."""

from __future__ import annotations

import errno
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Errors that only writing can cause: the output's file system is full, over quota, read-only or
# refuses a file this large. They are reported with the output's path (Python's text names none).
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


class OutputWriteError(OSError):
    """An output could not be written where it belongs."""


def _write_error(err: Exception) -> int | None:
    """The errno of a write error; HDF5 reports the C library's errno only in its message."""
    if getattr(err, "errno", None) in WRITE_ERRORS:
        return err.errno
    text = str(err)
    return next((code for code in WRITE_ERRORS if f"errno = {code}," in text or os.strerror(code) in text), None)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` when the block succeeds and is
    removed when it fails, so Snakemake or a reader never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # h5py raises RuntimeError when closing a file fails
        code = _write_error(err)
        if code is None or isinstance(err, OutputWriteError):
            raise
        raise OutputWriteError(code, f"{path}: cannot be written: {os.strerror(code)} (in {path.parent})") from err
    finally:
        tmp.unlink(missing_ok=True)
