"""Stage: per timestep, the bootstrap statistics of every score and its paired change from t = 0.

Input: a long score table (`pcgc.stages.score`). Output table (CSV), one row per CAM method x
layer x metric x parameter x timestep: hyperparameter_set, the perturbation's columns (`sigma` for
a noise level, `family` and `severity` for a corruption), method, layer, metric, parameter, the columns of `pcgc.analysis.bootstrap.bootstrap_timesteps`, `n_excluded` (images left out
because the score is undefined, NaN, for them at some timestep), the columns of
`pcgc.analysis.paired.paired_against_first` and `accuracy` (top-1 over all images).

A dataset-level score (PxAP, image_index -1) has one value per timestep: `mean` is that value,
`delta_mean` its change from t = 0; there are no images to resample or test, so its bootstrap and
test columns are empty (NaN).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pcgc.analysis.bootstrap import COLUMNS as BOOTSTRAP_COLUMNS
from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.analysis.paired import COLUMNS as PAIRED_COLUMNS
from pcgc.analysis.paired import paired_against_first
from pcgc.spec.metrics import DATASET_ROW
from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)

KEYS = ["method", "layer", "metric", "parameter"]


def score_statistics(rows: pd.DataFrame, *, resamples: int, seed: int, confidence: float, where: str) -> pd.DataFrame:
    """The statistics of one score's rows (one metric and parameter of one map dataset)."""
    pooled = rows["image_index"] == DATASET_ROW
    if pooled.all():
        return _dataset_statistics(rows, resamples, seed, confidence)
    if pooled.any():
        raise ValueError(f"{where}: a score has both per-image rows and dataset rows (image_index {DATASET_ROW})")
    kept, excluded = defined_images(rows)
    if len(kept) == 0:
        raise ValueError(f"{where}: the score is undefined (NaN) for every image; nothing to summarise")
    summary = bootstrap_timesteps(kept, resamples=resamples, seed=seed, confidence=confidence)
    summary["n_excluded"] = excluded
    paired = paired_against_first(kept, resamples=resamples, seed=seed, confidence=confidence)
    summary = summary.merge(paired, on="timestep")
    summary["accuracy"] = accuracy_by_timestep(rows, summary["timestep"])
    return summary


def defined_images(rows: pd.DataFrame) -> tuple[np.ndarray, int]:
    """One score's long rows (`image_index`, `timestep`, `value`) as [images, timesteps] values of
    the images whose score is defined at every timestep, and how many images were left out for a
    NaN somewhere (docs/gradcam-and-scoring.md, "Scores")."""
    values = rows.pivot(index="image_index", columns="timestep", values="value").sort_index(axis=1)
    undefined = values.isna().any(axis=1)
    return values[~undefined].to_numpy(), int(undefined.sum())


def accuracy_by_timestep(rows: pd.DataFrame, timesteps: pd.Series) -> np.ndarray:
    """The share of rows whose top-1 class is the target (`correct`), at each of `timesteps`."""
    return rows.groupby("timestep")["correct"].mean().reindex(timesteps).to_numpy(dtype=np.float64)


def _dataset_statistics(rows: pd.DataFrame, resamples: int, seed: int, confidence: float) -> pd.DataFrame:
    values = rows.sort_values("timestep")
    summary = pd.DataFrame({column: np.nan for column in BOOTSTRAP_COLUMNS + PAIRED_COLUMNS}, index=range(len(values)))
    summary["timestep"] = values["timestep"].to_numpy()
    summary["mean"] = values["value"].to_numpy()
    summary["delta_mean"] = summary["mean"] - summary["mean"].iloc[0]
    summary["ratio_mean"] = summary["mean"] / summary["mean"].iloc[0]
    summary[["resamples", "seed", "confidence"]] = resamples, seed, float(confidence)
    summary["n_excluded"] = 0
    summary["accuracy"] = np.nan
    return summary


def summarize(
    score_table: Path,
    out_table: Path,
    *,
    resamples: int,
    seed: int,
    confidence: float,
    hyperparameter_set: str,
    perturbation: Mapping[str, Any],
) -> None:
    """`perturbation`: the branch's columns (pcgc.spec.perturbations), `{"sigma": s}` or
    `{"family": f, "severity": n}`."""
    scores = pd.read_parquet(score_table)
    parts = []
    for key, rows in scores.groupby(KEYS, sort=True, dropna=False):
        where = f"{score_table}: {', '.join(f'{k} {v}' for k, v in zip(KEYS, key))}"
        summary = score_statistics(rows, resamples=resamples, seed=seed, confidence=confidence, where=where)
        if summary["n_excluded"].iloc[0]:
            log.warning("%s: %d images left out (score undefined for them)", where, summary["n_excluded"].iloc[0])
        for name, value in reversed(list(zip(KEYS, key))):
            summary.insert(0, name, value)
        parts.append(summary)
    table = pd.concat(parts, ignore_index=True)
    for name, value in reversed(list(perturbation.items())):
        table.insert(0, name, value)
    table.insert(0, "hyperparameter_set", hyperparameter_set)
    with atomic_path(out_table) as tmp:
        table.to_csv(tmp, index=False)
    log.info("bootstrap and paired tests of %d scores, %d resamples -> %s", len(parts), resamples, out_table)
