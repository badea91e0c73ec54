"""Figures 3 and 4: a grid of heatmaps over (lambda, beta), one shared diverging colour scale.

Each panel shows one value per grid cell (the paper: mean IoU relative to the same images' t = 0
mean), lambda on x and beta on y, beta increasing upwards. Cells that were not run (beta + lambda
> 1) are NaN and drawn dark. The colour scale is centred on `center` (1: no change from t = 0) and
symmetric about it, so that the same colour means the same change in every panel.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from pcgc.figures.output import check_paths, save_figure

NOT_RUN_COLOUR = "0.15"
COLOURMAP = "RdBu_r"


def _tick_positions(count: int, most: int = 5) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, most)).round().astype(int))


def plot_heatmap_grid(
    values: np.ndarray,
    betas: Sequence[float],
    lambdas: Sequence[float],
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    out_paths: Sequence[Path],
    *,
    title: str,
    colorbar_label: str,
    center: float = 1.0,
) -> None:
    """Draw `values` [rows, columns, len(betas), len(lambdas)] as a grid of heatmaps and save it.

    NaN marks a cell that was not run. Every panel needs at least one finite value.
    """
    paths = check_paths(out_paths)
    values = np.asarray(values, dtype=np.float64)
    rows, columns = len(row_labels), len(column_labels)
    if values.shape != (rows, columns, len(betas), len(lambdas)):
        raise ValueError(
            f"values have shape {values.shape}, expected {(rows, columns, len(betas), len(lambdas))} "
            "(rows, columns, betas, lambdas)"
        )
    empty = [(r, c) for r in range(rows) for c in range(columns) if not np.isfinite(values[r, c]).any()]
    if empty:
        raise ValueError(f"panels {empty} (row, column) have no value to draw")
    spread = float(np.nanmax(np.abs(values - center)))
    spread = spread if spread > 0 else 1e-3
    norm = Normalize(center - spread, center + spread)
    colourmap = matplotlib.colormaps[COLOURMAP].with_extremes(bad=NOT_RUN_COLOUR)

    width = 1.25 * columns + 1.6
    figure = Figure(figsize=(width, 1.25 * rows + 1.1), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    x_ticks, y_ticks = _tick_positions(len(lambdas)), _tick_positions(len(betas))
    image = None
    for r in range(rows):
        for c in range(columns):
            ax = axes[r, c]
            image = ax.imshow(
                np.ma.masked_invalid(values[r, c]), origin="lower", cmap=colourmap, norm=norm,
                interpolation="nearest", aspect="auto",
            )
            ax.set_xticks(x_ticks, [f"{lambdas[k]:g}" for k in x_ticks], fontsize="x-small")
            ax.set_yticks(y_ticks, [f"{betas[k]:g}" for k in y_ticks], fontsize="x-small")
            ax.tick_params(length=2, pad=1)
            if r == 0:
                ax.set_title(column_labels[c], fontsize="small")
            if r == rows - 1:
                ax.set_xlabel("λ (feedback)", fontsize="x-small")
            if c == 0:
                ax.set_ylabel(f"{row_labels[r]}\nβ (feedforward)", fontsize="x-small")
    colourbar = figure.colorbar(image, ax=axes, shrink=0.8 if rows > 1 else 1.0)
    colourbar.set_label(colorbar_label, fontsize="small")
    # About 11 characters per inch at this size: a narrow grid gets its title on several lines.
    figure.suptitle(textwrap.fill(title, width=max(30, int(11 * width))), fontsize="medium")
    save_figure(figure, paths)
