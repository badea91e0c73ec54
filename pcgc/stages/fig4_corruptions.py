"""Stage `fig4_corruptions`: Figure 4 for one corruption family of a shared sweep run at
corruptions (`sweeps.<name>.corruptions`): rows = timesteps, columns = the family's severities.

Per grid cell, the mean IoU at t divided by the same images' mean at t = 0 (`ratio_mean` of the
sweep's summary at that severity), on Figure 4's colour scale centred on 1 (`pcgc.stages.fig3`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pcgc.stages.fig3 import summary_rows
from pcgc.stages.fig4 import draw_grid


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
    draw_grid(
        tables, [f"severity {s}" for s in severities], out_paths, betas=betas, lambdas=lambdas, timesteps=timesteps,
        title=f"Every PCoder alike (sweep {sweep}), {family.replace('_', ' ')}: mean IoU (threshold {threshold:g}) relative to t = 0",
        colorbar_label="mean IoU / mean IoU at t = 0 (same severity)",
    )
