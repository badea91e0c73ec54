"""Figure 2: mean IoU over timesteps, one line per hyperparameter set, with bootstrap error bars."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pcgc.figures.output import check_paths, save_figure


def _error_bars(name: str, frame: pd.DataFrame, error: str) -> np.ndarray:
    """Return yerr for ``errorbar``: shape (N,) for a symmetric column, (2, N) for 'ci'."""
    needed = ["timestep", "mean"] + (["ci_low", "ci_high"] if error == "ci" else [error])
    for column in needed:
        if column not in frame.columns:
            raise ValueError(f"summary {name!r} lacks column {column!r} (has {list(frame.columns)})")
    for column in needed[1:]:
        data = frame[column].to_numpy(dtype=np.float64)
        if not np.isfinite(data).all():
            raise ValueError(f"summary {name!r} has non-finite values in column {column!r}")
    mean = frame["mean"].to_numpy(dtype=np.float64)
    if error != "ci":
        yerr = frame[error].to_numpy(dtype=np.float64)
        if (yerr < 0).any():
            raise ValueError(f"summary {name!r} has negative values in error column {error!r}")
        return yerr
    yerr = np.stack([mean - frame["ci_low"].to_numpy(np.float64), frame["ci_high"].to_numpy(np.float64) - mean])
    outside = np.flatnonzero((yerr < 0).any(axis=0))
    if outside.size:
        steps = frame["timestep"].to_numpy()[outside].tolist()
        raise ValueError(f"summary {name!r}: mean lies outside [ci_low, ci_high] at timesteps {steps}")
    return yerr


def plot_iou_over_time(
    summaries: Mapping[str, pd.DataFrame],
    out_paths: Sequence[Path],
    *,
    title: str,
    ylabel: str = "mean IoU",
    error: str = "boot_sd",
    significance: str | None = None,
) -> None:
    """Draw ``mean`` against ``timestep`` for each summary (legend = mapping key) and save it.

    ``summaries`` are tables as produced by ``pcgc.analysis.bootstrap.bootstrap_timesteps``. ``error`` is
    the column used as symmetric error bars (default the bootstrap SD, the paper's error bars),
    or ``'ci'`` for asymmetric bars spanning ``ci_low``..``ci_high``. ``significance`` names a
    bool column of the summaries: its True timesteps get a star above their error bar (Figure 2:
    significantly different from t = 0). Each of ``out_paths`` is
    written atomically; its suffix picks the format (``.png`` at 200 dpi, or ``.pdf``).
    """
    if not summaries:
        raise ValueError("summaries is empty: nothing to plot")
    paths = check_paths(out_paths)

    prepared = []
    for name, frame in summaries.items():
        yerr = _error_bars(name, frame, error)
        steps = frame["timestep"].to_numpy()
        if not np.issubdtype(steps.dtype, np.integer):
            raise ValueError(f"summary {name!r}: timestep column must be integer, got dtype {steps.dtype}")
        if len(np.unique(steps)) != len(steps):
            raise ValueError(f"summary {name!r}: repeated timesteps {steps.tolist()}")
        order = np.argsort(steps)
        yerr = yerr[..., order]
        if significance is None:
            marked = np.zeros(len(steps), dtype=bool)
        elif significance not in frame.columns or frame[significance].dtype != bool:
            raise ValueError(f"summary {name!r} lacks a bool column {significance!r} (has {list(frame.columns)})")
        else:
            marked = frame[significance].to_numpy()[order]
        prepared.append((name, steps[order], frame["mean"].to_numpy(np.float64)[order], yerr, marked))

    figure = Figure(figsize=(5.5, 3.8), layout="constrained")
    axes = figure.add_subplot()
    # Lines are dodged sideways by a few hundredths of a step so that their error bars stay apart.
    dodge = 0.06
    for k, (name, steps, mean, yerr, marked) in enumerate(prepared):
        shift = (k - (len(prepared) - 1) / 2) * dodge
        line = axes.errorbar(steps + shift, mean, yerr=yerr, marker="o", markersize=4, capsize=3, label=str(name))
        if marked.any():
            top = mean + (yerr if yerr.ndim == 1 else yerr[1])
            axes.plot(
                (steps + shift)[marked], top[marked], linestyle="none", marker="*", markersize=8,
                color=line.lines[0].get_color(),
            )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("timestep")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize="medium")
    axes.grid(True, alpha=0.3)
    axes.legend()

    save_figure(figure, paths)
