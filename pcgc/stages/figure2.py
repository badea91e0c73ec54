"""Stage: Figure 2, mean IoU over timesteps for several hyperparameter sets (one noise level)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from pcgc.figures.timecourse import plot_iou_over_time

log = logging.getLogger(__name__)


def figure2(summaries: Mapping[str, Path], out_paths: Sequence[Path], *, threshold: float, sigma: float, error: str) -> None:
    frames = {}
    for name, path in summaries.items():
        table = pd.read_csv(path)
        rows = table[table["threshold"] == threshold]
        if rows.empty:
            raise ValueError(f"{path}: no rows for threshold {threshold}; thresholds present: {sorted(table['threshold'].unique())}")
        frames[name] = rows.sort_values("timestep")
        means = frames[name]["mean"].to_numpy()
        log.info("%s (%s): mean IoU %.3f at t = 0, %.3f at t = %d", name, path, means[0], means[-1], len(means) - 1)
    noise = "clean images" if sigma == 0 else f"Gaussian noise $\\sigma$ = {sigma:g}"
    bars = "bootstrap SD" if error == "boot_sd" else "bootstrap percentile interval"
    plot_iou_over_time(
        frames, out_paths, title=f"Grad-CAM IoU, {noise}, threshold {threshold:g}\nerror bars: {bars}", error=error
    )
