"""Stage: every score of every image's CAMs against its object mask, as one long table.

Output table (Parquet), one row per CAM method x layer x score x image x timestep
(docs/outputs.md, "Per-image scores"): hyperparameter_set, the perturbation's columns (`sigma` for a
noise level; `family`, `severity` for a corruption), image_index, image_id, timestep, method, layer,
metric, parameter, value, correct (top-1 == CAM target), target_logit. A dataset-level score (PxAP)
has one row per method x layer x timestep with image_index -1 and no image_id, correct or
target_logit.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from pcgc.analysis.metrics import METRICS, score_batch
from pcgc.spec.metrics import DATASET_ROW, Score
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import cam_datasets, open_h5, require_datasets

log = logging.getLogger(__name__)

# The columns after the perturbation's (pcgc.spec.perturbations: `sigma`, or `family` and `severity`).
COLUMNS = [
    "image_index", "image_id", "timestep", "method", "layer", "metric", "parameter", "value", "correct", "target_logit",
]


def score_extraction(
    extract_h5: Path,
    selection_h5: Path,
    scores: Sequence[Score],
    out_table: Path,
    *,
    hyperparameter_set: str,
    perturbation: Mapping[str, Any],
    chunk: int = 32,
) -> None:
    """Score every (method, layer) map dataset of `extract_h5` against the masks of `selection_h5`.
    `perturbation` is the branch's columns: `{"sigma": s}` or `{"family": f, "severity": n}`."""
    if not scores:
        raise ValueError("no scores to compute")
    per_image = [s for s in scores if s.per_image]
    pooled = [s for s in scores if not s.per_image]
    parts = []
    with open_h5(extract_h5) as extraction, open_h5(selection_h5) as selection:
        require_datasets(extraction, ["image_id", "top1", "cam_target", "target_logit"], extract_h5)
        require_datasets(selection, ["mask_ids", "class_id", "image_id"], selection_h5)
        image_ids = extraction["image_id"].asstr()[:]
        rows = selection_rows(image_ids, selection["image_id"].asstr()[:], extract_h5, selection_h5)
        correct = extraction["top1"][:] == extraction["cam_target"][:][:, None]
        target_logit = extraction["target_logit"][:]
        datasets = cam_datasets(extraction, extract_h5)
        all_values, all_sums = _score_datasets(datasets, selection, rows, scores, chunk)
        for method, layer in datasets:
            values, sums = all_values[(method, layer)], all_sums[(method, layer)]
            frame = _per_image_table(values, per_image, rows, image_ids, correct, target_logit)
            if pooled:
                totals = {s: METRICS[s.metric].finish(sums[s]) for s in pooled}  # each [T+1]
                frame = pd.concat([frame, _dataset_table(totals)], ignore_index=True)
            frame.insert(0, "layer", layer)
            frame.insert(0, "method", method)
            parts.append(frame)
            _log_scores(extract_h5, method, layer, frame)
    table = pd.concat(parts, ignore_index=True)
    table["hyperparameter_set"] = hyperparameter_set
    for name, value in perturbation.items():
        table[name] = float(value) if name == "sigma" else value
    table["correct"] = table["correct"].astype("boolean")
    with atomic_path(out_table) as tmp:
        table[["hyperparameter_set", *perturbation, *COLUMNS]].to_parquet(tmp, index=False)


def selection_rows(image_ids: np.ndarray, selected: np.ndarray, extract_h5: Path, selection_h5: Path) -> np.ndarray:
    """The selection rows (`image_index`) of an extraction's images: all of them, or a subset of
    them, in selection order."""
    if list(image_ids) == list(selected):
        return np.arange(len(selected))
    position = {image_id: row for row, image_id in enumerate(selected)}
    missing = [image_id for image_id in image_ids if image_id not in position]
    if missing:
        raise ValueError(f"{extract_h5}: images {missing[:5]} are not in {selection_h5}")
    rows = np.array([position[image_id] for image_id in image_ids], dtype=np.int64)
    if np.any(np.diff(rows) <= 0):
        raise ValueError(f"{extract_h5}: its images are not in the order of {selection_h5}")
    return rows


def _score_datasets(datasets, selection, rows: np.ndarray, scores: Sequence[Score], chunk: int):
    """Per (method, layer) map dataset: its per-image scores [S, N, T+1] and each dataset-level
    score's sums over its images. The masks are read once per chunk of images, for every dataset;
    `rows` are the images' rows in the selection (`selection_rows`)."""
    count = next(iter(datasets.values())).shape[0]
    values = {
        key: np.empty((sum(s.per_image for s in scores), count, maps.shape[1]), dtype=np.float64)
        for key, maps in datasets.items()
    }
    sums: dict[tuple[str, str], dict[Score, torch.Tensor]] = {key: {} for key in datasets}
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        first, last = rows[start], rows[stop - 1]
        # A run of consecutive rows is read as a slice, much faster in h5py than a point selection.
        where = slice(first, last + 1) if last - first == stop - start - 1 else rows[start:stop]
        masks = torch.from_numpy(selection["mask_ids"][where].astype(np.int32))
        classes = torch.from_numpy(selection["class_id"][where])
        for key, maps in datasets.items():
            part, pooled = score_batch(torch.from_numpy(maps[start:stop]), masks, classes, scores)
            values[key][:, start:stop] = part.numpy()
            for score, addend in pooled.items():
                addend = addend.sum(1)  # over the batch's images
                sums[key][score] = addend if score not in sums[key] else sums[key][score] + addend
    return values, sums


def _per_image_table(values, scores, rows, image_ids, correct, target_logit) -> pd.DataFrame:
    score_of, image_of, step_of = (g.ravel() for g in np.indices(values.shape))
    return pd.DataFrame(
        {
            "image_index": rows[image_of],
            "image_id": np.asarray(image_ids, dtype=object)[image_of],
            "timestep": step_of,
            "metric": np.array([s.metric for s in scores], dtype=object)[score_of],
            "parameter": np.array([np.nan if s.parameter is None else s.parameter for s in scores])[score_of],
            "value": values.ravel(),
            "correct": correct[image_of, step_of],
            "target_logit": target_logit[image_of, step_of].astype(np.float64),
        }
    )


def _dataset_table(totals: dict[Score, torch.Tensor]) -> pd.DataFrame:
    """One row per dataset-level score and timestep."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "image_index": DATASET_ROW, "image_id": None, "timestep": np.arange(values.shape[-1]), "metric": s.metric,
                    "parameter": np.nan if s.parameter is None else s.parameter, "value": values.numpy(),
                    "correct": None, "target_logit": np.nan,
                }
            )
            for s, values in totals.items()
        ],
        ignore_index=True,
    )


def _log_scores(path: Path, method: str, layer: str, frame: pd.DataFrame) -> None:
    for (metric, parameter), rows in frame.groupby(["metric", "parameter"], dropna=False, sort=False):
        by_step = rows.groupby("timestep")["value"]
        undefined = int(rows["value"].isna().sum())
        label = metric if pd.isna(parameter) else f"{metric}@{parameter:g}"
        log.info(
            "%s at %s, %s: mean by timestep %s%s", method, layer, label,
            " ".join(f"{v:.3f}" for v in by_step.mean()),
            f" ({undefined} undefined values (NaN) in {path}, docs/gradcam-and-scoring.md, 'Undefined values')" if undefined else "",
        )
