"""HDF5 outputs that are complete or absent, with JSON-encoded metadata attributes."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from pcgc.storage.atomic import atomic_path

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


# Extraction files keep one raw-map dataset per CAM method and layer, so that adding either needs
# no new file format: `cams/{method}/{layer}` [N, T+1, h, w] float32.
CAM_GROUP = "cams"


def cam_dataset_name(method: str, layer: str) -> str:
    return f"{CAM_GROUP}/{method}/{layer}"


def cam_datasets(handle: h5py.File, path: str | os.PathLike) -> dict[tuple[str, str], h5py.Dataset]:
    """Every raw-map dataset of an extraction file, keyed by (method, layer), in sorted order."""
    if CAM_GROUP not in handle or not isinstance(handle[CAM_GROUP], h5py.Group):
        raise KeyError(f"{path}: group {CAM_GROUP!r} (raw maps per CAM method and layer) missing; found {sorted(handle)}")
    found = {
        (method, layer): handle[cam_dataset_name(method, layer)]
        for method in sorted(handle[CAM_GROUP])
        for layer in sorted(handle[CAM_GROUP][method])
    }
    if not found:
        raise KeyError(f"{path}: group {CAM_GROUP!r} holds no maps")
    return found
