"""Stage: IoU of every image's CAM with its object mask, per CAM method, layer, timestep and threshold.

Output table (Parquet), one row per method x layer x image x timestep x threshold:
method, layer, image_index, image_id, timestep, threshold, iou, correct (top-1 == CAM target),
target_logit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pcgc.atomic import atomic_path
from pcgc.h5io import cam_datasets, open_h5, require_datasets
from pcgc.scoring import iou_scores, score_maps

log = logging.getLogger(__name__)


def score_iou(extract_h5: Path, selection_h5: Path, thresholds: list[float], out_table: Path, chunk: int = 32) -> None:
    parts = []
    with open_h5(extract_h5) as extraction, open_h5(selection_h5) as selection:
        require_datasets(extraction, ["image_id", "top1", "cam_target", "target_logit"], extract_h5)
        require_datasets(selection, ["mask_ids", "class_id", "image_id"], selection_h5)
        image_ids = extraction["image_id"].asstr()[:]
        if list(image_ids) != list(selection["image_id"].asstr()[:]):
            raise ValueError(f"{extract_h5}: its images are not those of {selection_h5}")
        correct = extraction["top1"][:] == extraction["cam_target"][:][:, None]
        target_logit = extraction["target_logit"][:]
        for (method, layer), maps in cam_datasets(extraction, extract_h5).items():
            scores = _score_dataset(maps, selection, thresholds, chunk)
            empty = np.argwhere(np.isnan(scores))
            if len(empty):
                # Selection guarantees a non-empty object, so an empty union cannot happen: say so loudly.
                raise ValueError(
                    f"{extract_h5}: {method} at {layer}: IoU undefined (empty union) at {len(empty)} (threshold, image, timestep) positions"
                )
            parts.append(_table(method, layer, scores, thresholds, image_ids, correct, target_logit))
            for k, threshold in enumerate(thresholds):
                log.info(
                    "%s at %s, threshold %g: mean IoU by timestep %s",
                    method, layer, threshold, " ".join(f"{v:.3f}" for v in scores[k].mean(0)),
                )
    with atomic_path(out_table) as tmp:
        pd.concat(parts, ignore_index=True).to_parquet(tmp, index=False)


def _score_dataset(maps, selection, thresholds: list[float], chunk: int) -> np.ndarray:
    count, states = maps.shape[:2]
    scores = np.empty((len(thresholds), count, states), dtype=np.float64)
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        scores[:, start:stop] = score_maps(
            torch.from_numpy(maps[start:stop]),
            torch.from_numpy(selection["mask_ids"][start:stop].astype(np.int32)),
            torch.from_numpy(selection["class_id"][start:stop]),
            iou_scores(thresholds),
        ).numpy()
    return scores


def _table(method, layer, scores, thresholds, image_ids, correct, target_logit) -> pd.DataFrame:
    grid_threshold, grid_image, grid_t = (
        g.ravel() for g in np.meshgrid(*(np.arange(n) for n in scores.shape), indexing="ij")
    )
    return pd.DataFrame(
        {
            "method": method,
            "layer": layer,
            "image_index": grid_image,
            "image_id": image_ids[grid_image],
            "timestep": grid_t,
            "threshold": np.asarray(thresholds)[grid_threshold],
            "iou": scores.ravel(),
            "correct": correct[grid_image, grid_t],
            "target_logit": target_logit[grid_image, grid_t],
        }
    )
