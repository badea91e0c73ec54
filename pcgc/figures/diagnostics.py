"""Convergence diagnostics figure: one row of panels over timesteps for one hyperparameter set and
noise level: each PCoder's prediction error, top-1 accuracy, mean target logit, relative change of
the top representation, and the mean IoU beside them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pcgc.analysis.convergence import error_column
from pcgc.figures.output import check_paths, save_figure

REQUIRED = ["timestep", "top1_accuracy", "target_logit", "representation_change", "iou"]


def plot_convergence(table: pd.DataFrame, out_paths: Sequence[Path], *, title: str, iou_label: str) -> None:
    """Draw `pcgc.analysis.convergence.convergence_table`'s columns against the timestep and save them."""
    paths = check_paths(out_paths)
    missing = [c for c in REQUIRED if c not in table.columns]
    pcoders = sum(c.startswith("prediction_error_pcoder") for c in table.columns)
    errors = [error_column(n) for n in range(1, pcoders + 1)]
    missing += [c for c in errors if c not in table.columns] or ([] if pcoders else [error_column(1)])
    if missing:
        raise ValueError(f"diagnostics table lacks columns {missing}; has {list(table.columns)}")
    steps = table["timestep"].to_numpy()

    figure = Figure(figsize=(17, 3.6), layout="constrained")
    axes = figure.subplots(1, 5, sharex=True)
    panel = axes[0]
    for n, column in enumerate(errors, start=1):
        panel.plot(steps, table[column].to_numpy(np.float64), marker="o", markersize=3, label=f"PCoder {n}")
    panel.set_yscale("log")
    panel.set_title("prediction error (mean MSE)", fontsize="medium")
    panel.legend(fontsize="x-small")
    series = (
        ("top1_accuracy", "top-1 accuracy"),
        ("target_logit", "mean target logit"),
        ("representation_change", "relative change of top rep.\n$\\|r_t - r_{t-1}\\| / \\|r_{t-1}\\|$"),
        ("iou", iou_label),
    )
    for panel, (column, label) in zip(axes[1:], series):
        values = table[column].to_numpy(np.float64)
        panel.plot(steps, values, marker="o", markersize=3, color="C3" if column == "iou" else "C0")
        panel.set_title(label, fontsize="medium")
    for panel in axes:
        panel.set_xlabel("timestep")
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(True, alpha=0.3)
    figure.suptitle(title, fontsize="medium")
    save_figure(figure, paths)
