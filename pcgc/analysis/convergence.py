"""Convergence diagnostics of one extraction: per timestep, what the dynamics do and what the map
does, side by side (no plotting here, see pcgc.figures.diagnostics).

From the extraction file: each PCoder's mean prediction error, the top-1 accuracy against the CAM
target class, the mean target logit, and the mean relative change of the top representation
||r_t - r_{t-1}|| / ||r_{t-1}|| (undefined at t = 0). From the IoU table: the mean IoU of Grad-CAM
on the top representation at one threshold. Means are over the images; a value the extraction did
not compute (NaN) stays NaN in the mean rather than being skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pcgc.storage.h5io import open_h5, require_datasets

IOU_METHOD = "gradcam"
EXTRACTION_DATASETS = ["prediction_error", "top1", "cam_target", "target_logit", "representation_change"]


def error_column(pcoder: int) -> str:
    """The column of PCoder `pcoder`'s (1-based) mean prediction error."""
    return f"prediction_error_pcoder{pcoder}"


def read_extraction_diagnostics(path: str | os.PathLike) -> pd.DataFrame:
    """Per timestep: top1_accuracy, target_logit, representation_change, prediction_error_pcoder<n>."""
    with open_h5(path) as handle:
        require_datasets(handle, EXTRACTION_DATASETS, path)
        errors = handle["prediction_error"][:].astype(np.float64)  # [N, T+1, P]
        top1 = handle["top1"][:]
        target = handle["cam_target"][:]
        logit = handle["target_logit"][:].astype(np.float64)
        change = handle["representation_change"][:].astype(np.float64)
    images, states, pcoders = errors.shape
    for name, array in (("top1", top1), ("target_logit", logit), ("representation_change", change)):
        if array.shape != (images, states):
            raise ValueError(f"{path}: {name} has shape {array.shape}, prediction_error {errors.shape}; expected ({images}, {states})")
    if target.shape != (images,):
        raise ValueError(f"{path}: cam_target has shape {target.shape}, expected ({images},)")
    table = pd.DataFrame(
        {
            "timestep": np.arange(states),
            "top1_accuracy": (top1 == target[:, None]).mean(0),
            "target_logit": logit.mean(0),
            # Relative change is undefined at t = 0 (stored NaN); the mean keeps it NaN there.
            "representation_change": change.mean(0),
        }
    )
    for n in range(pcoders):
        table[error_column(n + 1)] = errors[:, :, n].mean(0)
    return table


def mean_iou(path: str | os.PathLike, *, layer: str, threshold: float, images: int, states: int) -> np.ndarray:
    """[T+1] mean IoU of Grad-CAM on `layer` at `threshold`, from a long score table
    (`pcgc.stages.score`); every image must be there at every timestep."""
    table = pd.read_parquet(path, columns=["method", "layer", "metric", "parameter", "image_index", "timestep", "value"])
    table = table[table["metric"] == "iou"]
    rows = table[(table["method"] == IOU_METHOD) & (table["layer"] == layer) & np.isclose(table["parameter"].astype(float), threshold)]
    if rows.empty:
        found = sorted(set(zip(table["method"], table["layer"], table["parameter"])))
        raise ValueError(f"{path}: no IoU rows for {IOU_METHOD} on {layer} at threshold {threshold}; found (method, layer, threshold) {found}")
    counts = rows.groupby("timestep")["image_index"].nunique().reindex(range(states), fill_value=0)
    if len(rows) != images * states or (counts != images).any():
        raise ValueError(
            f"{path}: {IOU_METHOD} on {layer} at threshold {threshold} has {len(rows)} rows; expected one per image and "
            f"timestep ({images} x {states}); images per timestep: {counts.to_dict()}"
        )
    return rows.groupby("timestep")["value"].mean().reindex(range(states)).to_numpy()


def convergence_table(extraction: Path, iou_table: Path, *, threshold: float) -> pd.DataFrame:
    """The extraction's diagnostics per timestep with the mean IoU (column `iou`) beside them."""
    table = read_extraction_diagnostics(extraction)
    pcoders = sum(column.startswith("prediction_error_pcoder") for column in table.columns)
    with open_h5(extraction) as handle:
        images = handle["top1"].shape[0]
    table["iou"] = mean_iou(iou_table, layer=f"pcoder{pcoders}", threshold=threshold, images=images, states=len(table))
    return table
