"""The mechanism figure: does the representation recover, and does localisation move with it?

Four panels at one noise level (docs/mechanism.md):

(a) d_n(t)/d_n(0) per PCoder under the real dynamics: each PCoder's correlation distance to the
    clean run, relative to t = 0 (below 1: the representation recovers);
(b) the score's S(t)/S(0) per condition (real dynamics and controls), stars where a control differs
    from the real dynamics (Holm-corrected Wilcoxon p < alpha);
(c) d_top(t)/d_top(0) per condition: does the representation recover under the controls?
(d) per image, at one timestep, the change of d_top from t = 0 against the change of the score,
    with Spearman's rho and its bootstrap interval.

Error bars: the bootstrap SD of the ratio of means (each resample's mean(t) / mean(0)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pcgc.figures.output import check_paths, save_figure


def _ratio_curve(axes, frame: pd.DataFrame, label: str, shift: float, marked: np.ndarray | None = None) -> None:
    frame = frame.sort_values("timestep")
    steps = frame["timestep"].to_numpy() + shift
    mean, sd = frame["ratio_mean"].to_numpy(np.float64), frame["ratio_boot_sd"].to_numpy(np.float64)
    line = axes.errorbar(steps, mean, yerr=sd, marker="o", markersize=3, capsize=2, label=label)
    if marked is not None and marked.any():
        axes.plot(steps[marked], (mean + sd)[marked], linestyle="none", marker="*", markersize=7, color=line.lines[0].get_color())


def _finish(axes, ylabel: str, title: str) -> None:
    axes.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("timestep")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize="medium")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")


def plot_mechanism(
    recovery: pd.DataFrame,
    scores: Mapping[str, pd.DataFrame],
    controls: pd.DataFrame,
    link: pd.DataFrame,
    per_image: pd.DataFrame,
    out_paths: Sequence[Path],
    *,
    score_label: str,
    scatter_timestep: int,
    alpha: float,
    title: str,
) -> None:
    """Draw the four panels. `recovery`, `controls`, `link` and `per_image` are the tables of
    `pcgc.stages.mechanism_stats` (the link's and the controls' rows of the drawn score only);
    `scores` maps each condition to its bootstrap rows of the drawn score (`ratio_mean`,
    `ratio_boot_sd`), the real dynamics (`trained`) first."""
    paths = check_paths(out_paths)
    conditions = list(scores)
    figure = Figure(figsize=(11, 8), layout="constrained")
    (a, b), (c, d) = figure.subplots(2, 2)

    same = recovery[(recovery["reference"] == "same_t")]
    trained = same[same["condition"] == conditions[0]]
    pcoders = sorted(trained["pcoder"].unique(), key=lambda name: int(name.removeprefix("pcoder")))
    for k, pcoder in enumerate(pcoders):
        _ratio_curve(a, trained[trained["pcoder"] == pcoder], pcoder, (k - (len(pcoders) - 1) / 2) * 0.05)
    _finish(a, "$d_n(t) / d_n(0)$", f"(a) recovery per PCoder, {conditions[0]}\n$d_n$ = 1 - Pearson r to the clean run at t")

    for k, condition in enumerate(conditions):
        marked = None
        rows = controls[controls["condition"] == condition].sort_values("timestep")
        if not rows.empty:
            marked = (rows["p_holm"] < alpha).to_numpy(dtype=bool)
        _ratio_curve(b, scores[condition], condition, (k - (len(conditions) - 1) / 2) * 0.05, marked)
    _finish(b, f"{score_label}(t) / {score_label}(0)", f"(b) localisation per condition\n*: differs from {conditions[0]}, Holm p < {alpha:g}")

    top = pcoders[-1]
    for k, condition in enumerate(conditions):
        rows = same[(same["condition"] == condition) & (same["pcoder"] == top)]
        _ratio_curve(c, rows, condition, (k - (len(conditions) - 1) / 2) * 0.05)
    _finish(c, f"$d_{{top}}(t) / d_{{top}}(0)$ ({top})", "(c) recovery of the top representation per condition")

    points = per_image[per_image["condition"] == conditions[0]]
    first = points[points["timestep"] == 0].set_index("image_index")
    at = points[points["timestep"] == scatter_timestep].set_index("image_index")
    d.scatter(at["d_top"] - first["d_top"], at["score"] - first["score"], s=8, alpha=0.6)
    d.axhline(0, color="grey", linewidth=0.8, linestyle=":")
    d.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    row = link[(link["condition"] == conditions[0]) & (link["timestep"] == scatter_timestep)]
    rho = "" if row.empty else (
        f"Spearman $\\rho$ = {row['spearman'].iloc[0]:.2f} [{row['ci_low'].iloc[0]:.2f}, {row['ci_high'].iloc[0]:.2f}]"
    )
    d.set_xlabel(f"$d_{{top}}(t) - d_{{top}}(0)$ at t = {scatter_timestep}")
    d.set_ylabel(f"{score_label}(t) - {score_label}(0)")
    d.set_title(f"(d) per image, {conditions[0]}, t = {scatter_timestep}\n{rho}", fontsize="medium")
    d.grid(True, alpha=0.3)
    figure.suptitle(title)
    save_figure(figure, paths)
