"""Stage `fig3`: Figure 3 from a single_pcoder sweep's summary table (and what Figure 4 shares).

Both draw, per grid cell, the mean score at timestep t divided by the same images' mean at t = 0
(`ratio_mean` of the summary), on a shared colour scale centred on 1.

* Figure 3 (a single_pcoder sweep at one noise level): rows = the active PCoder, columns = timesteps.
* Figure 4 (a shared sweep): rows = timesteps, columns = noise levels.

`timesteps: all` shows t = 1..T: at t = 0 every ratio is 1 by definition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from pcgc.figures.heatmaps import plot_heatmap_grid

VALUE = "ratio_mean"


def summary_rows(summary: pd.DataFrame, path: Path, threshold: float, metric: str = "iou") -> pd.DataFrame:
    rows = summary[(summary["metric"] == metric) & np.isclose(summary["parameter"], threshold)]
    if rows.empty:
        present = sorted(summary.loc[summary["metric"] == metric, "parameter"].unique())
        raise ValueError(f"{path}: no {metric} rows at threshold {threshold}; {metric} thresholds present: {present}")
    return rows


def cell_values(rows: pd.DataFrame, timestep: int, betas: Sequence[float], lambdas: Sequence[float]) -> np.ndarray:
    """[len(betas), len(lambdas)] of the value at `timestep`; NaN where the cell was not run."""
    grid = np.full((len(betas), len(lambdas)), np.nan)
    at = rows[rows["timestep"] == timestep]
    grid[_positions("beta", betas, at), _positions("lambda", lambdas, at)] = at[VALUE].to_numpy()
    return grid


def _positions(column: str, axis: Sequence[float], rows: pd.DataFrame) -> np.ndarray:
    """Where each row's value lies on the grid axis (values read back from CSV, so to 1e-9)."""
    values = rows[column].to_numpy(dtype=np.float64)
    distance = np.abs(values[:, None] - np.asarray(axis, dtype=np.float64)[None, :])
    position = distance.argmin(axis=1)
    off = values[distance[np.arange(len(values)), position] > 1e-9]
    if off.size:
        raise ValueError(f"{column} values {sorted(set(off.tolist()))} of the summary are not on the sweep's grid {list(axis)}")
    return position


def shown_timesteps(shown: str | Sequence[int], rows: pd.DataFrame) -> list[int]:
    available = sorted(rows["timestep"].unique())
    chosen = [t for t in available if t > 0] if shown == "all" else list(shown)
    missing = sorted(set(chosen) - set(available))
    if missing:
        raise ValueError(f"timesteps {missing} are not in the summary (it has {available})")
    return chosen


def figure3(
    summary_csv: Path,
    out_paths: Sequence[Path],
    *,
    betas: Sequence[float],
    lambdas: Sequence[float],
    threshold: float,
    timesteps: str | Sequence[int],
    sweep: str,
    sigma: float,
) -> None:
    rows = summary_rows(pd.read_csv(summary_csv), summary_csv, threshold)
    steps = shown_timesteps(timesteps, rows)
    pcoders = sorted(rows["pcoder"].unique())
    values = np.stack(
        [np.stack([cell_values(rows[rows["pcoder"] == k], t, betas, lambdas) for t in steps]) for k in pcoders]
    )
    noise = "clean images" if sigma == 0 else f"noise σ = {sigma:g}"
    plot_heatmap_grid(
        values, betas, lambdas, [f"PCoder {k}" for k in pcoders], [f"t = {t}" for t in steps], out_paths,
        title=f"One PCoder active at a time (sweep {sweep}, {noise}): mean IoU (threshold {threshold:g}) relative to t = 0",
        colorbar_label="mean IoU / mean IoU at t = 0",
    )
