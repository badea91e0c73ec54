"""Stage: the corruption figures of one hyperparameter set (docs/corruptions.md, "Figures").

* The heatmap: per family (rows) and severity (columns), one score's mean at t divided by the same
  images' mean at t = 0 (`ratio_mean` of the branch's bootstrap table), one panel per timestep.
* The curves: per family, CE_f(t) / CE_f(0) (robustness, `ce.csv`) beside S_f(t) / S_f(0), the
  score's mean over the family's severities relative to t = 0; and a panel for the mean over the
  families (mCE beside the mean score). The score's intervals come from the same paired
  bootstrap over images as the errors' (pcgc.analysis.robustness.family_score_table).

The curves' table (CSV) has the numbers drawn, one row per family (or `all`) and timestep.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pcgc.analysis.robustness import ALL_FAMILIES, family_score_table
from pcgc.figures.corruptions import (
    plot_family_severity_heatmaps,
    plot_robustness_beside_score,
)
from pcgc.spec.metrics import METRIC_KINDS
from pcgc.stages.fig2 import LABELS, _selected
from pcgc.stages.fig3 import shown_timesteps
from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)

TABLE_COLUMNS = [
    "hyperparameter_set", "family", "timestep", "n_images",
    "ce", "ce_ratio", "ce_ratio_ci_low", "ce_ratio_ci_high",
    "score_mean", "score_ratio", "score_ratio_ci_low", "score_ratio_ci_high", "score_n_images", "score_n_excluded",
    "method", "layer", "metric", "parameter",
]


def score_values(table_path: Path, method: str, layer: str, metric: str, parameter: float | None) -> pd.DataFrame:
    """One score of a long score table as [image id x timestep] values."""
    rows = pd.read_parquet(
        table_path, columns=["image_id", "timestep", "method", "layer", "metric", "parameter", "value"],
        filters=[("method", "==", method), ("layer", "==", layer), ("metric", "==", metric)],
    )
    if rows.empty:
        raise ValueError(f"{table_path}: no rows for {method} at {layer}, {metric}")
    rows = _selected(rows, table_path, method, layer, metric, parameter)
    return rows.pivot(index="image_id", columns="timestep", values="value").sort_index(axis=1)


def family_scores(
    score_tables: Sequence[Path], branches: Sequence[Mapping[str, Any]], *, method: str, layer: str, metric: str,
    parameter: float | None, resamples: int, seed: int, confidence: float,
) -> tuple[pd.DataFrame, int]:
    """The score per family (and `all`) with its bootstrap, over the images whose score is defined
    in every branch; and how many images were left out for a NaN somewhere."""
    values = {(b["family"], int(b["severity"])): score_values(p, method, layer, metric, parameter) for p, b in zip(score_tables, branches)}
    images = None
    for key, frame in values.items():
        if images is None:
            images, first = list(frame.index), key
        elif sorted(frame.index) != sorted(images):
            raise ValueError(f"the score tables of {first} and {key} hold different images")
    defined = pd.concat([frame.notna().all(axis=1) for frame in values.values()], axis=1).all(axis=1)
    kept = defined.index[defined]
    if len(kept) == 0:
        raise ValueError(f"{metric} is undefined (NaN) for every image in some branch; nothing to summarise")
    table = family_score_table(
        {key: frame.loc[kept].to_numpy() for key, frame in values.items()}, resamples=resamples, seed=seed, confidence=confidence
    )
    return table, int((~defined).sum())


def heatmap_values(localisation: pd.DataFrame, path: Path, families: Sequence[str], steps: Sequence[int], *, method: str,
                   layer: str, metric: str, parameter: float | None) -> tuple[np.ndarray, list[int]]:
    """[timesteps, families, severities] of the score's ratio to t = 0 (NaN: a severity not run)."""
    rows = _selected(localisation, path, method, layer, metric, parameter)
    rows = rows[rows["family"].isin(families)]
    severities = sorted(int(s) for s in rows["severity"].unique())
    values = np.full((len(steps), len(families), len(severities)), np.nan)
    for (family, severity), branch in rows.groupby(["family", "severity"]):
        ratios = branch.set_index("timestep")["ratio_mean"]
        values[:, list(families).index(family), severities.index(int(severity))] = ratios.reindex(steps).to_numpy()
    return values, severities


def corruption_figures(
    ce_csv: Path,
    localisation_csv: Path,
    score_tables: Sequence[Path],
    branches: Sequence[Mapping[str, Any]],
    heatmap_paths: Sequence[Path],
    curves_paths: Sequence[Path],
    out_table: Path,
    *,
    hyperparameter_set: str,
    families: Sequence[str],
    method: str,
    layer: str,
    metric: str,
    parameter: float | None,
    timesteps: str | Sequence[int],
    resamples: int,
    seed: int,
    confidence: float,
) -> None:
    setting = "" if parameter is None else f", {METRIC_KINDS[metric].parameter} {parameter:g}"
    score = LABELS[metric] + ("" if parameter is None else f" ({METRIC_KINDS[metric].parameter} {parameter:g})")
    localisation = pd.read_csv(localisation_csv)
    steps = shown_timesteps(timesteps, localisation)
    values, severities = heatmap_values(
        localisation, localisation_csv, families, steps, method=method, layer=layer, metric=metric, parameter=parameter
    )
    plot_family_severity_heatmaps(
        values, families, severities, [f"t = {t}" for t in steps], heatmap_paths,
        title=f"{hyperparameter_set}: {method} at {layer}, mean {score} at t relative to t = 0, per corruption and severity",
        colorbar_label=f"mean {LABELS[metric]}(t) / mean {LABELS[metric]}(0)",
    )

    scores, excluded = family_scores(
        score_tables, branches, method=method, layer=layer, metric=metric, parameter=parameter,
        resamples=resamples, seed=seed, confidence=confidence,
    )
    ce = pd.read_csv(ce_csv)
    table = ce[["family", "timestep", "n_images", "ce", "ratio", "ratio_ci_low", "ratio_ci_high"]].rename(
        columns={"ratio": "ce_ratio", "ratio_ci_low": "ce_ratio_ci_low", "ratio_ci_high": "ce_ratio_ci_high"}
    ).merge(
        scores[["family", "timestep", "n_images", "mean", "ratio", "ratio_ci_low", "ratio_ci_high"]].rename(
            columns={"n_images": "score_n_images", "mean": "score_mean", "ratio": "score_ratio",
                     "ratio_ci_low": "score_ratio_ci_low", "ratio_ci_high": "score_ratio_ci_high"}
        ),
        on=["family", "timestep"], how="inner", validate="one_to_one",
    )
    table = table.assign(hyperparameter_set=hyperparameter_set, score_n_excluded=excluded, method=method, layer=layer,
                         metric=metric, parameter=np.nan if parameter is None else parameter)[TABLE_COLUMNS]
    panels = [*families, ALL_FAMILIES]
    plot_robustness_beside_score(
        table, panels, curves_paths,
        title=f"{hyperparameter_set}: corruption error and {method} at {layer} over the dynamics, relative to t = 0 "
        f"(bands: {confidence:g} bootstrap intervals over images)",
        error_label="CE_f(t) / CE_f(0) (mCE for all; lower: fewer errors)",
        score_label=f"mean {LABELS[metric]}(t) / mean {LABELS[metric]}(0){setting} (higher: better localised)",
    )
    shown = table[table["family"].isin(panels)]
    with atomic_path(out_table) as tmp:
        shown.to_csv(tmp, index=False)
    last = shown[shown["timestep"] == shown["timestep"].max()]
    for _, row in last.iterrows():
        log.info(
            "%s, %s at t = %d: CE ratio %.3f, %s ratio %.3f", hyperparameter_set, row["family"], row["timestep"],
            row["ce_ratio"], LABELS[metric], row["score_ratio"],
        )
