"""Stage `fig4_corruptions`: Figure 4 for one corruption family of a shared sweep run at
corruptions (`sweeps.<name>.corruptions`): rows = timesteps, columns = the family's severities.

Per grid cell, the mean IoU at t divided by the same images' mean at t = 0 (`ratio_mean` of the
sweep's summary at that severity), on Figure 4's colour scale centred on 1 (`pcgc.stages.fig3`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pcgc.figures.heatmaps import plot_heatmap_grid
from pcgc.stages.fig3 import cell_values, shown_timesteps, summary_rows


def figure4_corruption(
    summaries: Mapping[int, Path],
    out_paths: Sequence[Path],
    *,
    betas: Sequence[float],
    lambdas: Sequence[float],
    threshold: float,
    timesteps: str | Sequence[int],
    sweep: str,
    family: str,
) -> None:
    severities = sorted(summaries)
    tables = {s: summary_rows(pd.read_csv(summaries[s]), summaries[s], threshold) for s in severities}
    for severity, rows in tables.items():
        found = set(zip(rows["family"], rows["severity"]))
        if found != {(family, severity)}:
            raise ValueError(f"{summaries[severity]}: holds {sorted(found)}, not {family} at severity {severity}")
    steps = shown_timesteps(timesteps, tables[severities[0]])
    values = np.stack([np.stack([cell_values(tables[s], t, betas, lambdas) for s in severities]) for t in steps])
    plot_heatmap_grid(
        values, betas, lambdas, [f"t = {t}" for t in steps], [f"severity {s}" for s in severities], out_paths,
        title=f"Every PCoder alike (sweep {sweep}), {family.replace('_', ' ')}: mean IoU (threshold {threshold:g}) relative to t = 0",
        colorbar_label="mean IoU / mean IoU at t = 0 (same severity)",
    )
