"""Stage `sweep_merge`: a sweep's chunks merged into one long table per perturbation.

The table (`sweeps/<sweep>/<perturbation>/scores.parquet`) has one row per grid cell x image x
timestep x score; cells that share a configuration (the top PCoder ignores lambda) share their
numbers. The columns are those of docs/outputs.md, "Sweep tables": the perturbation is named by
`sigma` for a noise level, by `family` and `severity` for a corruption.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np
import pandas as pd

from pcgc.spec.sweeps import Cell, HyperParameters
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import open_h5, read_json_attr, require_datasets

log = logging.getLogger(__name__)


class SweepChunks:
    """The chunks of one sweep and noise level, opened for reading by configuration key."""

    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError("no sweep chunks to read")
        self.paths = list(paths)
        self.handles: list[h5py.File] = []
        self.where: dict[str, tuple[h5py.File, int]] = {}

    def __enter__(self) -> "SweepChunks":
        try:
            reference = None
            for path in self.paths:
                handle = open_h5(path)
                self.handles.append(handle)
                require_datasets(handle, ["scores", "correct", "target_logit", "image_index", "image_id"], path)
                layout = (
                    read_json_attr(handle, "timesteps", path),
                    read_json_attr(handle, "scores", path),
                    handle["image_index"][:].tolist(),
                )
                if reference is None:
                    reference, first = layout, path
                elif layout != reference:
                    raise ValueError(f"{path}: its timesteps, scores or images differ from those of {first}; rerun the sweep")
                # The first chunk that holds a configuration serves it, as in the plan's order.
                for position, entry in enumerate(read_json_attr(handle, "configurations", path)):
                    self.where.setdefault(entry["key"], (handle, position))
        except BaseException:
            self.__exit__()
            raise
        self.timesteps, self.scores, self.image_index = reference
        self.image_id = self.handles[0]["image_id"].asstr()[:]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self.handles:
            handle.close()

    def get(self, configuration: HyperParameters, dataset: str) -> np.ndarray:
        try:
            handle, position = self.where[configuration.key]
        except KeyError:
            raise ValueError(f"no chunk holds configuration {configuration.key}") from None
        return handle[dataset][position]


def merge_sweep(
    chunk_paths: Sequence[Path], cells: Sequence[Cell], *, sweep: str, kind: str, perturbation: Mapping[str, Any], out_table: Path
) -> None:
    """One long table (Parquet) for the sweep's grid at one perturbation (its columns, e.g.
    `{"sigma": 0.2}` or `{"family": "fog", "severity": 3}`): one row per cell x image x timestep x
    score."""
    with SweepChunks(chunk_paths) as chunks:
        scores = chunks.scores  # [{"metric": ..., "parameter": ...}], see pcgc.analysis.metrics.Score
        count, states, width = len(chunks.image_index), chunks.timesteps + 1, len(scores)
        values = np.stack([chunks.get(c.configuration, "scores") for c in cells])
        correct = np.stack([chunks.get(c.configuration, "correct") for c in cells])
        logits = np.stack([chunks.get(c.configuration, "target_logit") for c in cells])
        image_index, image_id = chunks.image_index, chunks.image_id

    shape = (len(cells), count, states, width)
    cell_of, image_of, step_of, score_of = (a.ravel() for a in np.indices(shape))
    per_cell = pd.DataFrame([c.as_dict() for c in cells])
    table = pd.DataFrame(
        {
            "sweep": _categorical([sweep], np.zeros_like(cell_of)),
            "kind": _categorical([kind], np.zeros_like(cell_of)),
            **_perturbation_columns(perturbation, len(cell_of)),
            "pcoder": pd.array(per_cell["pcoder"].to_numpy()[cell_of], dtype="Int64"),
            "beta": per_cell["beta"].to_numpy()[cell_of],
            "lambda": per_cell["lambda"].to_numpy()[cell_of],
            "alpha": per_cell["alpha"].to_numpy()[cell_of],
            "image_index": np.asarray(image_index)[image_of],
            "image_id": _categorical(list(image_id), image_of),
            "timestep": step_of.astype(np.int32),
            "metric": _categorical([s["metric"] for s in scores], score_of),
            "parameter": np.array([np.nan if s["parameter"] is None else s["parameter"] for s in scores])[score_of],
            "value": values.ravel(),
            "correct": np.broadcast_to(correct[..., None], shape).ravel(),
            "target_logit": np.broadcast_to(logits[..., None], shape).ravel(),
        }
    )
    with atomic_path(out_table) as tmp:
        table.to_parquet(tmp, index=False)
    where = ", ".join(f"{key} {value}" for key, value in perturbation.items())
    log.info("sweep %s, %s: %d cells x %d images x %d states x %d scores -> %s", sweep, where, len(cells), count, states, width, out_table)


def _perturbation_columns(perturbation: Mapping[str, Any], rows: int) -> dict[str, Any]:
    """The columns that name the perturbation: `sigma` (float) or `family` (categorical) and `severity`."""
    if set(perturbation) == {"sigma"}:
        return {"sigma": np.full(rows, float(perturbation["sigma"]))}
    if set(perturbation) == {"family", "severity"}:
        return {
            "family": _categorical([perturbation["family"]], np.zeros(rows, dtype=np.int64)),
            "severity": np.full(rows, int(perturbation["severity"]), dtype=np.int64),
        }
    raise ValueError(f"a perturbation is {{sigma}} or {{family, severity}}, got {dict(perturbation)}")


def _categorical(labels: Sequence[str], index: np.ndarray) -> pd.Categorical:
    """`labels[index]` as a categorical column: small in memory and in Parquet."""
    position = {label: k for k, label in enumerate(dict.fromkeys(labels))}
    codes = np.array([position[label] for label in labels], dtype=np.int32)
    return pd.Categorical.from_codes(codes[index], categories=list(position))
