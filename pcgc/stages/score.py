"""Stage: IoU of every image's Grad-CAM with its object mask, per timestep and threshold.

Output table (Parquet), one row per image x timestep x threshold:
image_index, image_id, timestep, threshold, iou, correct (top-1 == Grad-CAM target), target_logit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pcgc.atomic import atomic_path
from pcgc.h5io import open_h5, require_datasets
from pcgc.scoring import iou_scores, score_maps

log = logging.getLogger(__name__)


def score_iou(extract_h5: Path, selection_h5: Path, thresholds: list[float], out_table: Path, chunk: int = 32) -> None:
    with open_h5(extract_h5) as extraction, open_h5(selection_h5) as selection:
        require_datasets(extraction, ["cam_raw", "image_id", "top1", "cam_target", "target_logit"], extract_h5)
        require_datasets(selection, ["mask_ids", "class_id", "image_id"], selection_h5)
        image_ids = extraction["image_id"].asstr()[:]
        if list(image_ids) != list(selection["image_id"].asstr()[:]):
            raise ValueError(f"{extract_h5}: its images are not those of {selection_h5}")
        count, states = extraction["cam_raw"].shape[:2]
        scores = np.empty((len(thresholds), count, states), dtype=np.float64)
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            scores[:, start:stop] = score_maps(
                torch.from_numpy(extraction["cam_raw"][start:stop]),
                torch.from_numpy(selection["mask_ids"][start:stop].astype(np.int32)),
                torch.from_numpy(selection["class_id"][start:stop]),
                iou_scores(thresholds),
            ).numpy()
        correct = extraction["top1"][:] == extraction["cam_target"][:][:, None]
        target_logit = extraction["target_logit"][:]
    empty = np.argwhere(np.isnan(scores))
    if len(empty):
        # Selection guarantees a non-empty object, so an empty union cannot happen: say so loudly.
        raise ValueError(f"{extract_h5}: IoU undefined (empty union) at {len(empty)} (threshold, image, timestep) positions")
    grid_threshold, grid_image, grid_t = np.meshgrid(
        np.arange(len(thresholds)), np.arange(count), np.arange(states), indexing="ij"
    )
    table = pd.DataFrame(
        {
            "image_index": grid_image.ravel(),
            "image_id": image_ids[grid_image.ravel()],
            "timestep": grid_t.ravel(),
            "threshold": np.asarray(thresholds)[grid_threshold.ravel()],
            "iou": scores.ravel(),
            "correct": correct[grid_image.ravel(), grid_t.ravel()],
            "target_logit": target_logit[grid_image.ravel(), grid_t.ravel()],
        }
    )
    with atomic_path(out_table) as tmp:
        table.to_parquet(tmp, index=False)
    for k, threshold in enumerate(thresholds):
        log.info("threshold %g: mean IoU by timestep %s", threshold, " ".join(f"{v:.3f}" for v in scores[k].mean(0)))
