"""Stage `sweep_summary`: a sweep's long table summarised per grid cell, score and timestep with the
paired bootstrap."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.stages.bootstrap import accuracy_by_timestep, defined_images
from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)


# A cell's columns; the perturbation's (`sigma`, or `family` and `severity`) come after `kind`.
CELL_COLUMNS = ["sweep", "kind", "pcoder", "beta", "lambda", "alpha"]
PERTURBATION_COLUMNS = ["sigma", "family", "severity"]


def summarize_sweep(table_path: Path, out_table: Path, *, resamples: int, seed: int, confidence: float) -> None:
    """Per cell, score and timestep: the mean over images, its ratio to the same images' t = 0 mean,
    and their bootstrap SD and percentile intervals (`pcgc.analysis.bootstrap.bootstrap_timesteps`)."""
    table = pd.read_parquet(table_path)
    parts = []
    perturbation = [column for column in PERTURBATION_COLUMNS if column in table.columns]
    keys = CELL_COLUMNS[:2] + perturbation + CELL_COLUMNS[2:] + ["metric", "parameter"]
    for key, rows in table.groupby(keys, sort=False, dropna=False, observed=True):
        kept, excluded = defined_images(rows)
        if len(kept) == 0:
            raise ValueError(f"{table_path}: score undefined for every image at {dict(zip(keys, key))}")
        summary = bootstrap_timesteps(kept, resamples=resamples, seed=seed, confidence=confidence)
        summary["n_excluded"] = excluded
        summary["accuracy"] = accuracy_by_timestep(rows, summary["timestep"])
        for name, value in reversed(list(zip(keys, key))):
            summary.insert(0, name, value)
        parts.append(summary)
    result = pd.concat(parts, ignore_index=True)
    result["pcoder"] = result["pcoder"].astype("Int64")
    with atomic_path(out_table) as tmp:
        result.to_csv(tmp, index=False)
    log.info("summarised %d (cell, score) pairs of %s -> %s", len(parts), table_path, out_table)
