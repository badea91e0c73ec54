"""HDF5 outputs that are complete or absent, with JSON-encoded metadata attributes."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from pcgc.atomic import atomic_path

STRING = h5py.string_dtype("utf-8")


@contextmanager
def atomic_h5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Write `path` through a temporary file that replaces it only when the block succeeds."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        yield handle


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open a pcgc output for reading; one that HDF5 cannot read (a job killed while writing it
    outside pcgc's atomic writes, a truncated copy) is an error that names it."""
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except OSError as err:
        raise OSError(
            f"{path}: not a valid or complete HDF5 file (truncated or corrupt?); delete it so that the workflow "
            f"writes it again ({err})"
        ) from err


def write_json_attrs(node: h5py.HLObject, values: Mapping[str, Any]) -> None:
    """Store each value as a JSON string attribute (readable from any HDF5 tool)."""
    for key, value in values.items():
        node.attrs[key] = json.dumps(value, sort_keys=True)


def read_json_attr(node: h5py.HLObject, key: str, path: str | os.PathLike) -> Any:
    if key not in node.attrs:
        raise KeyError(f"{path}: attribute {key!r} missing (not a pcgc output, or an older format?)")
    return json.loads(node.attrs[key])


def string_array(values) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=object)


def require_datasets(handle: h5py.File, names: list[str], path: str | os.PathLike) -> None:
    missing = [name for name in names if name not in handle]
    if missing:
        raise KeyError(f"{path}: dataset(s) {missing} missing; found {sorted(handle)}")
