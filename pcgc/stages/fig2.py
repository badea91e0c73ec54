"""Stage: Figure 2, one score over timesteps for several hyperparameter sets (one noise level, one
CAM method and layer), with the timesteps that differ significantly from t = 0 marked, and its
table (CSV): the rows drawn, with their paired statistics and a `significant` column
(Holm-corrected Wilcoxon p < alpha)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pcgc.figures.fig2 import plot_iou_over_time
from pcgc.spec.metrics import METRIC_KINDS
from pcgc.spec.perturbations import Perturbation
from pcgc.storage.atomic import atomic_path

log = logging.getLogger(__name__)

LABELS = {
    "iou": "IoU", "energy_pointing": "energy-based pointing game", "pointing_game": "pointing game",
    "auroc": "mask AUROC", "average_precision": "mask average precision", "pxap": "PxAP",
}


def _selected(table: pd.DataFrame, path: Path, method: str, layer: str, metric: str, parameter: float | None) -> pd.DataFrame:
    for column, value in (("method", method), ("layer", layer), ("metric", metric)):
        present = sorted(table[column].astype(str).unique())
        if value not in present:
            raise ValueError(f"{path}: no rows for {column} {value!r}; present: {present}")
        table = table[table[column] == value]
    if parameter is None:
        rows = table[table["parameter"].isna()]
    else:
        rows = table[np.isclose(table["parameter"].astype(float), parameter)]
    if rows.empty:
        raise ValueError(f"{path}: no {metric} rows at parameter {parameter}; present: {sorted(table['parameter'].unique())}")
    return rows.sort_values("timestep")


def perturbation_text(perturbation: Mapping[str, Any]) -> str:
    """A branch's perturbation (its table columns: `sigma`, or `family` and `severity`) in a
    figure's title: `Perturbation.describe`, with sigma in mathtext as the figures have always drawn it."""
    inputs = Perturbation(**perturbation)
    if inputs.is_noise and inputs.sigma != 0:
        return f"Gaussian noise $\\sigma$ = {inputs.sigma:g}"
    return inputs.describe()


def figure2(
    summaries: Mapping[str, Path],
    out_paths: Sequence[Path],
    out_table: Path,
    *,
    method: str,
    layer: str,
    metric: str,
    parameter: float | None,
    alpha: float,
    perturbation: Mapping[str, Any],
    error: str,
) -> None:
    """`perturbation`: the branch's columns, `{"sigma": s}` or `{"family": f, "severity": n}`."""
    frames = {}
    for name, path in summaries.items():
        rows = _selected(pd.read_csv(path), path, method, layer, metric, parameter).copy()
        rows["significant"] = (rows["p_holm"] < alpha).to_numpy(dtype=bool)
        frames[name] = rows
        means = rows["mean"].to_numpy()
        marked = rows.loc[rows["significant"], "timestep"].tolist()
        log.info(
            "%s (%s): mean %s %.3f at t = 0, %.3f at t = %d; differs from t = 0 (Holm p < %g) at t = %s",
            name, path, metric, means[0], means[-1], len(means) - 1, alpha, marked,
        )
    label = LABELS[metric] + ("" if parameter is None else f" ({METRIC_KINDS[metric].parameter} {parameter:g})")
    bars = "bootstrap SD" if error == "boot_sd" else "bootstrap percentile interval"
    plot_iou_over_time(
        frames, out_paths, error=error, significance="significant", ylabel=f"mean {LABELS[metric]}",
        title=f"{method} at {layer}: {label}, {perturbation_text(perturbation)}\nerror bars: {bars}; *: Wilcoxon vs t = 0, Holm p < {alpha:g}",
    )
    table = pd.concat(frames.values(), ignore_index=True)
    table["alpha"] = alpha
    with atomic_path(out_table) as tmp:
        table.to_csv(tmp, index=False)
