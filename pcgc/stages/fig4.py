"""Stage `fig4`: Figure 4 from a shared sweep's summary tables, one per noise level.

Per grid cell, the mean score at timestep t divided by the same images' mean at t = 0
(`ratio_mean` of the summary), on a colour scale centred on 1: rows = timesteps, columns = noise
levels. The selection of rows and cells is Figure 3's (`pcgc.stages.fig3`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pcgc.figures.heatmaps import plot_heatmap_grid
from pcgc.stages.fig3 import cell_values, shown_timesteps, summary_rows


def figure4(
    summaries: Mapping[float, Path],
    out_paths: Sequence[Path],
    *,
    betas: Sequence[float],
    lambdas: Sequence[float],
    threshold: float,
    timesteps: str | Sequence[int],
    sweep: str,
) -> None:
    sigmas = sorted(summaries)
    tables = {sigma: summary_rows(pd.read_csv(summaries[sigma]), summaries[sigma], threshold) for sigma in sigmas}
    draw_grid(
        tables, [f"σ = {s:g}" for s in sigmas], out_paths, betas=betas, lambdas=lambdas, timesteps=timesteps,
        title=f"Every PCoder alike (sweep {sweep}), Gaussian noise: mean IoU (threshold {threshold:g}) relative to t = 0",
        colorbar_label="mean IoU / mean IoU at t = 0 (same noise level)",
    )


def draw_grid(
    tables: Mapping[Any, pd.DataFrame],
    column_labels: Sequence[str],
    out_paths: Sequence[Path],
    *,
    betas: Sequence[float],
    lambdas: Sequence[float],
    timesteps: str | Sequence[int],
    title: str,
    colorbar_label: str,
) -> None:
    """Figure 4's grid of heatmaps: rows = the shown timesteps, columns = the summary tables (in
    their order, one per perturbation: a noise level, or a corruption's severity)."""
    columns = list(tables)
    steps = shown_timesteps(timesteps, tables[columns[0]])
    values = np.stack([np.stack([cell_values(tables[c], t, betas, lambdas) for c in columns]) for t in steps])
    plot_heatmap_grid(
        values, betas, lambdas, [f"t = {t}" for t in steps], list(column_labels), out_paths,
        title=title, colorbar_label=colorbar_label,
    )
