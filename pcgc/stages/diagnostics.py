"""Stage: the convergence diagnostics figure of one extraction (one hyperparameter set, one noise
level or corruption), with the mean IoU of Grad-CAM on the top layer beside them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from pcgc.analysis.convergence import convergence_table
from pcgc.figures.diagnostics import plot_convergence
from pcgc.spec.perturbations import Perturbation
from pcgc.stages.fig2 import perturbation_text

log = logging.getLogger(__name__)


def diagnostics_figure(
    extraction: Path, iou_table: Path, out_paths: Sequence[Path], *, threshold: float, hyperparameter_set: str,
    perturbation: Mapping[str, Any],
) -> None:
    """`perturbation`: the branch's columns, `{"sigma": s}` or `{"family": f, "severity": n}`."""
    table = convergence_table(extraction, iou_table, threshold=threshold)
    last = table.iloc[-1]
    inputs = Perturbation(**perturbation)
    log.info(
        "%s, %s: top-1 %.3f -> %.3f, relative change of the top representation at t = %d: %.2e, mean IoU %.3f -> %.3f",
        hyperparameter_set, inputs.label, table["top1_accuracy"].iloc[0], last["top1_accuracy"], int(last["timestep"]),
        last["representation_change"], table["iou"].iloc[0], last["iou"],
    )
    plot_convergence(
        table, out_paths, title=f"Convergence of the dynamics: {hyperparameter_set}, {perturbation_text(perturbation)}",
        iou_label=f"mean IoU\n(Grad-CAM, top layer, threshold {threshold:g})",
    )
