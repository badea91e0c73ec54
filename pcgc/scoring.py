"""Scoring raw CAMs against object masks, on whatever device the maps are on.

`score_maps` is what the per-extraction `score` stage, the sweeps and Figure 1 call: normalise the
raw maps as pytorch-grad-cam does (`pcgc.cam.normalize_cam`), resize them to the mask, and compute
each score. A score is a registered metric (`pcgc.metrics.METRICS`) and its parameter (`pcgc.scores.Score`):
IoU at each threshold, the pointing game at each tolerance, the others without one. A table of
scores has one row per score, so that a new metric needs no new file format.
"""

from __future__ import annotations

from typing import Sequence

import torch

from pcgc.cam import normalize_cam
from pcgc.data.masks import IGNORE_ID
from pcgc.metrics import METRICS, check_inputs
from pcgc.scores import Score


def _normalised(cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor):
    if cam_raw.ndim != 4 or mask_ids.ndim != 3 or cam_raw.shape[0] != mask_ids.shape[0]:
        raise ValueError(
            f"need maps [R, T, h, w] and masks [R, H, W] for the same R; got {tuple(cam_raw.shape)} and {tuple(mask_ids.shape)}"
        )
    if class_id.shape != (cam_raw.shape[0],):
        raise ValueError(f"need one class id per map row; got shape {tuple(class_id.shape)} for {cam_raw.shape[0]} rows")
    maps = normalize_cam(cam_raw, tuple(mask_ids.shape[-2:]))
    ids = mask_ids.to(device=maps.device, dtype=torch.int32)[:, None]
    foreground = ids == class_id.to(device=ids.device, dtype=torch.int32).view(-1, 1, 1, 1)
    return maps, foreground, ids != IGNORE_ID


def score_maps(
    cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor, scores: Sequence[Score]
) -> torch.Tensor:
    """Per-image scores of raw maps `cam_raw` [R, T, h, w] against masks `mask_ids` [R, H, W]
    (ImageNet-S class ids; `IGNORE_ID` pixels excluded), the object being `class_id` [R].

    Returns float64 [len(scores), R, T] on the maps' device; NaN where a score is undefined
    (`pcgc.metrics`'s policy). Dataset-level scores (PxAP) come from `score_batch`.
    """
    dataset_level = [s for s in scores if not s.per_image]
    if dataset_level:
        raise ValueError(f"{dataset_level} are dataset-level: build them with score_batch")
    return score_batch(cam_raw, mask_ids, class_id, scores)[0]


def score_batch(
    cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor, scores: Sequence[Score]
) -> tuple[torch.Tensor, dict[Score, torch.Tensor]]:
    """Every score of `scores` on a batch of maps, normalised and checked once for all: the
    per-image ones as in `score_maps` ([S, R, T], in their order among `scores`), and for each
    dataset-level one what adds up over images (PxAP: pixel counts [2, R, T, bins]; sum them over
    the images and give the sum to the metric's `finish`)."""
    maps, foreground, valid = _normalised(cam_raw, mask_ids, class_id)
    maps, foreground, valid, leading = check_inputs(maps, foreground, valid)
    per_image = [s for s in scores if s.per_image]
    result = torch.empty((len(per_image), *leading), dtype=torch.float64, device=maps.device)
    cache: dict = {}
    by_metric: dict[str, list[int]] = {}
    for k, score in enumerate(per_image):
        by_metric.setdefault(score.metric, []).append(k)
    for name, rows in by_metric.items():
        parameters = [per_image[k].parameter for k in rows]
        result[rows] = METRICS[name].compute(maps, foreground, valid, leading, parameters, cache)
    pooled = {
        s: METRICS[s.metric].compute(maps, foreground, valid, leading, [s.parameter], cache) for s in scores if not s.per_image
    }
    return result, pooled
