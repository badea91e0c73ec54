"""Stage: bootstrap statistics of the IoU per timestep (and threshold).

Output table (CSV), one row per CAM method x layer x threshold x timestep: the columns of
`pcgc.bootstrap.bootstrap_timesteps` plus `method`, `layer`, `threshold`, `hyperparameter_set`,
`sigma` and `accuracy` (top-1 over all images).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pcgc.atomic import atomic_path
from pcgc.bootstrap import bootstrap_timesteps

log = logging.getLogger(__name__)


def summarize(
    iou_table: Path, out_table: Path, *, resamples: int, seed: int, confidence: float, hyperparameter_set: str, sigma: float
) -> None:
    scores = pd.read_parquet(iou_table)
    parts = []
    for (method, layer, threshold), rows in scores.groupby(["method", "layer", "threshold"], sort=True):
        values = rows.pivot(index="image_index", columns="timestep", values="iou").sort_index(axis=1)
        summary = bootstrap_timesteps(values.to_numpy(), resamples=resamples, seed=seed, confidence=confidence)
        accuracy = rows.groupby("timestep")["correct"].mean()
        summary.insert(0, "threshold", threshold)
        summary.insert(0, "layer", layer)
        summary.insert(0, "method", method)
        summary["accuracy"] = accuracy.reindex(summary["timestep"]).to_numpy()
        parts.append(summary)
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "sigma", sigma)
    table.insert(0, "hyperparameter_set", hyperparameter_set)
    with atomic_path(out_table) as tmp:
        table.to_csv(tmp, index=False)
    log.info("bootstrap over %d images, %d resamples -> %s", values.shape[0], resamples, out_table)
