"""Stage: the convergence diagnostics figure of one extraction (one hyperparameter set, one noise
level), with the mean IoU of Grad-CAM on the top layer beside them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from pcgc.analysis.convergence import convergence_table
from pcgc.figures.diagnostics import plot_convergence

log = logging.getLogger(__name__)


def diagnostics_figure(
    extraction: Path, iou_table: Path, out_paths: Sequence[Path], *, threshold: float, hyperparameter_set: str, sigma: float
) -> None:
    table = convergence_table(extraction, iou_table, threshold=threshold)
    last = table.iloc[-1]
    log.info(
        "%s, sigma %g: top-1 %.3f -> %.3f, relative change of the top representation at t = %d: %.2e, mean IoU %.3f -> %.3f",
        hyperparameter_set, sigma, table["top1_accuracy"].iloc[0], last["top1_accuracy"], int(last["timestep"]),
        last["representation_change"], table["iou"].iloc[0], last["iou"],
    )
    noise = "clean images" if sigma == 0 else f"Gaussian noise $\\sigma$ = {sigma:g}"
    plot_convergence(
        table, out_paths, title=f"Convergence of the dynamics: {hyperparameter_set}, {noise}",
        iou_label=f"mean IoU\n(Grad-CAM, top layer, threshold {threshold:g})",
    )
