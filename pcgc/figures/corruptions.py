"""The corruption figures: a family x severity heatmap of a score's ratio to t = 0, and per family
the corruption error beside the score over time (docs/corruptions.md, "Figures")."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pcgc.figures.heatmaps import COLOURMAP, NOT_RUN_COLOUR
from pcgc.figures.output import check_paths, save_figure


def plot_family_severity_heatmaps(
    values: np.ndarray,
    families: Sequence[str],
    severities: Sequence[int],
    panel_labels: Sequence[str],
    out_paths: Sequence[Path],
    *,
    title: str,
    colorbar_label: str,
    center: float = 1.0,
) -> None:
    """Draw `values` [panels, families, severities] as one heatmap per panel (families down,
    severities across), each cell annotated with its value, on one diverging colour scale centred
    on `center` and symmetric about it. NaN (a severity a family was not run at) is drawn dark."""
    paths = check_paths(out_paths)
    values = np.asarray(values, dtype=np.float64)
    expected = (len(panel_labels), len(families), len(severities))
    if values.shape != expected:
        raise ValueError(f"values have shape {values.shape}, expected {expected} (panels, families, severities)")
    if not np.isfinite(values).any():
        raise ValueError("no value to draw")
    spread = float(np.nanmax(np.abs(values - center)))
    norm = Normalize(center - (spread or 1e-3), center + (spread or 1e-3))
    colourmap = matplotlib.colormaps[COLOURMAP].with_extremes(bad=NOT_RUN_COLOUR)
    panels = len(panel_labels)
    width = 0.55 * len(severities) * panels + 2.6
    figure = Figure(figsize=(width, 0.42 * len(families) + 1.9), layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False, sharey=True)[0]
    image = None
    for p, ax in enumerate(axes):
        image = ax.imshow(np.ma.masked_invalid(values[p]), cmap=colourmap, norm=norm, aspect="auto", interpolation="nearest")
        for f in range(len(families)):
            for s in range(len(severities)):
                if np.isfinite(values[p, f, s]):
                    shade = abs(values[p, f, s] - center) > 0.6 * (spread or 1)
                    ax.text(s, f, f"{values[p, f, s]:.2f}", ha="center", va="center", fontsize="x-small",
                            color="white" if shade else "black")
        ax.set_xticks(range(len(severities)), [str(s) for s in severities], fontsize="small")
        ax.set_xlabel("severity", fontsize="small")
        ax.set_title(panel_labels[p], fontsize="small")
        if p == 0:
            ax.set_yticks(range(len(families)), [f.replace("_", " ") for f in families], fontsize="small")
    colourbar = figure.colorbar(image, ax=axes, shrink=0.9)
    colourbar.set_label(colorbar_label, fontsize="small")
    figure.suptitle(textwrap.fill(title, width=max(40, int(11 * width))), fontsize="medium")
    save_figure(figure, paths)


def plot_robustness_beside_score(
    table: pd.DataFrame,
    panels: Sequence[str],
    out_paths: Sequence[Path],
    *,
    title: str,
    error_label: str,
    score_label: str,
) -> None:
    """One panel per family of `panels` (a `family` of `table`, "all" for the mean over families):
    the error's ratio to t = 0 (`ce_ratio`) and the score's (`score_ratio`) over the timesteps,
    each with its bootstrap percentile interval as a band (`*_ci_low`, `*_ci_high`), and a dashed
    line at 1 (no change from the feedforward pass)."""
    paths = check_paths(out_paths)
    columns = ["family", "timestep"] + [f"{kind}_{part}" for kind in ("ce", "score") for part in ("ratio", "ratio_ci_low", "ratio_ci_high")]
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"the table lacks columns {missing} (has {list(table.columns)})")
    absent = [name for name in panels if name not in set(table["family"])]
    if absent or not panels:
        raise ValueError(f"no rows for panels {absent or panels}")
    count = len(panels)
    across = min(count, 4)
    down = math.ceil(count / across)
    figure = Figure(figsize=(2.9 * across + 0.4, 2.4 * down + 0.9), layout="constrained")
    axes = figure.subplots(down, across, squeeze=False, sharex=True)
    for k, ax in enumerate(axes.flat):
        if k >= count:
            ax.set_visible(False)
            continue
        rows = table[table["family"] == panels[k]].sort_values("timestep")
        steps = rows["timestep"].to_numpy()
        for kind, label, colour in (("ce", error_label, "tab:red"), ("score", score_label, "tab:blue")):
            ax.plot(steps, rows[f"{kind}_ratio"], marker="o", markersize=3, color=colour, label=label)
            ax.fill_between(steps, rows[f"{kind}_ratio_ci_low"], rows[f"{kind}_ratio_ci_high"], color=colour, alpha=0.18, linewidth=0)
        ax.axhline(1.0, color="0.4", linestyle="--", linewidth=0.8)
        name = panels[k]
        ax.set_title("all families (mean)" if name == "all" else name.replace("_", " "), fontsize="small")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize="x-small")
        ax.grid(True, alpha=0.3)
        if k % across == 0:
            ax.set_ylabel("relative to t = 0", fontsize="small")
        if k >= count - across:
            ax.set_xlabel("timestep", fontsize="small")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    figure.suptitle(textwrap.fill(title, width=max(40, int(11 * (2.9 * across + 0.4)))), fontsize="medium")
    save_figure(figure, paths)
