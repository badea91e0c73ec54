"""Stage: the mechanism figure at one noise level or corruption (`pcgc.figures.mechanism`) and
the controls' Figure 2 (`pcgc.stages.fig2.figure2`: the score over timesteps per condition,
significance against t = 0 marked), from the tables of `mechanism_stats` and each condition's
bootstrap table."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from pcgc.figures.mechanism import plot_mechanism
from pcgc.stages.fig2 import LABELS, _selected, figure2, perturbation_text


def _of_score(table: pd.DataFrame, metric: str, parameter: float | None) -> pd.DataFrame:
    rows = table[table["metric"] == metric]
    if parameter is None:
        return rows[rows["parameter"].isna()]
    return rows[np.isclose(rows["parameter"].astype(float), parameter)]


def figure_mechanism(
    stats: Mapping[str, Path],
    summaries: Mapping[str, Path],
    mechanism_paths: Sequence[Path],
    controls_paths: Sequence[Path],
    controls_table: Path,
    *,
    layer: str,
    metric: str,
    parameter: float | None,
    scatter_timestep: int,
    alpha: float,
    perturbation: Mapping[str, Any],
    error: str,
) -> None:
    """`stats`: the tables of `mechanism_stats` by name; `summaries`: condition -> bootstrap table
    (`trained` first); Grad-CAM at `layer` (the top one); `perturbation`: the branch's columns,
    `{"sigma": s}` or `{"family": f, "severity": n}`."""
    scores = {name: _selected(pd.read_csv(path), path, "gradcam", layer, metric, parameter) for name, path in summaries.items()}
    label = LABELS[metric] + ("" if parameter is None else f"@{parameter:g}")
    plot_mechanism(
        pd.read_csv(stats["recovery"]),
        scores,
        _of_score(pd.read_csv(stats["controls"]), metric, parameter),
        _of_score(pd.read_csv(stats["link"]), metric, parameter),
        pd.read_csv(stats["per_image"]),
        mechanism_paths,
        score_label=label,
        scatter_timestep=scatter_timestep,
        alpha=alpha,
        title=f"Grad-CAM at {layer}, {perturbation_text(perturbation)}: representation recovery and localisation",
    )
    figure2(
        dict(summaries), controls_paths, controls_table, method="gradcam", layer=layer, metric=metric,
        parameter=parameter, alpha=alpha, perturbation=perturbation, error=error,
    )
