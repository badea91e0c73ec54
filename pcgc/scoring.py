"""Scoring raw Grad-CAM maps against object masks, on whatever device the maps are on.

`score_maps` is what both the per-extraction `iou` stage and the sweeps call: normalise the raw
maps as pytorch-grad-cam does (`pcgc.cam.normalize_cam`), resize them to the mask, and compute
each score. A score is a metric and its parameter (`Score`); today the metric is the IoU at each
configured threshold, and a table of scores has one row per score so that more can be added
without a new file format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from pcgc.cam import normalize_cam
from pcgc.data.masks import IGNORE_ID
from pcgc.metrics import iou


@dataclass(frozen=True)
class Score:
    """One number per map: `metric` (e.g. "iou") at `threshold` (None for metrics without one)."""

    metric: str
    threshold: float | None

    def as_dict(self) -> dict:
        return {"metric": self.metric, "threshold": self.threshold}


def iou_scores(thresholds: Sequence[float]) -> list[Score]:
    return [Score("iou", float(t)) for t in thresholds]


def score_maps(
    cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor, scores: Sequence[Score]
) -> torch.Tensor:
    """Scores of raw maps `cam_raw` [R, T, h, w] against masks `mask_ids` [R, H, W] (ImageNet-S
    class ids; `IGNORE_ID` pixels excluded), the object being `class_id` [R].

    Returns float64 [len(scores), R, T] on the maps' device; NaN where a score is undefined (an
    IoU with an empty union).
    """
    if cam_raw.ndim != 4 or mask_ids.ndim != 3 or cam_raw.shape[0] != mask_ids.shape[0]:
        raise ValueError(
            f"need maps [R, T, h, w] and masks [R, H, W] for the same R; got {tuple(cam_raw.shape)} and {tuple(mask_ids.shape)}"
        )
    if class_id.shape != (cam_raw.shape[0],):
        raise ValueError(f"need one class id per map row; got shape {tuple(class_id.shape)} for {cam_raw.shape[0]} rows")
    unknown = sorted({s.metric for s in scores} - {"iou"})
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: ['iou']")
    maps = normalize_cam(cam_raw, tuple(mask_ids.shape[-2:]))
    ids = mask_ids.to(torch.int32)[:, None]
    foreground = ids == class_id.to(device=ids.device, dtype=torch.int32).view(-1, 1, 1, 1)
    return iou(maps, foreground, ids != IGNORE_ID, [s.threshold for s in scores])
