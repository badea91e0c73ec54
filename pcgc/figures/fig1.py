"""Figure 1: per image, the (noisy) input, its Grad-CAM overlaid at each timestep, and the mask."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from pcgc.figures.output import check_paths, save_figure

CAM_COLOURMAP = "jet"
OVERLAY_ALPHA = 0.5


def plot_cam_sequences(
    inputs: np.ndarray,
    cams: np.ndarray,
    foreground: np.ndarray,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    out_paths: Sequence[Path],
    *,
    title: str,
    annotations: np.ndarray | None = None,
) -> None:
    """Draw one row per image: `inputs` [M, H, W, 3] uint8, then `cams` [M, S, H, W] (normalised to
    [0, 1]) over the input, one column per `column_labels`, then the mask `foreground` [M, H, W].
    `annotations` [M, S] of strings are written under each map (e.g. its IoU)."""
    paths = check_paths(out_paths)
    inputs, cams, foreground = np.asarray(inputs), np.asarray(cams, dtype=np.float32), np.asarray(foreground)
    count, steps = len(row_labels), len(column_labels)
    if inputs.shape[:1] != (count,) or inputs.ndim != 4 or inputs.shape[-1] != 3:
        raise ValueError(f"inputs must be [{count}, H, W, 3], got {inputs.shape}")
    if cams.shape != (count, steps) + inputs.shape[1:3] or foreground.shape != (count,) + inputs.shape[1:3]:
        raise ValueError(f"cams {cams.shape} and masks {foreground.shape} do not match inputs {inputs.shape} and {steps} columns")
    if cams.size and (np.nanmin(cams) < 0 or np.nanmax(cams) > 1):
        raise ValueError("cams must be normalised to [0, 1]")
    if annotations is not None and np.shape(annotations) != (count, steps):
        raise ValueError(f"annotations must be [{count}, {steps}], got {np.shape(annotations)}")

    figure = Figure(figsize=(1.15 * (steps + 2) + 0.4, 1.3 * count + 0.7), layout="constrained")
    axes = figure.subplots(count, steps + 2, squeeze=False)
    for i in range(count):
        axes[i, 0].imshow(inputs[i])
        axes[i, 0].set_ylabel(row_labels[i], fontsize="x-small")
        for s in range(steps):
            ax = axes[i, s + 1]
            ax.imshow(inputs[i])
            ax.imshow(cams[i, s], cmap=CAM_COLOURMAP, vmin=0, vmax=1, alpha=OVERLAY_ALPHA)
            if annotations is not None:
                ax.set_xlabel(annotations[i][s], fontsize="xx-small", labelpad=1)
        axes[i, -1].imshow(foreground[i], cmap="gray", vmin=0, vmax=1)
    for column, label in enumerate(["input", *column_labels, "mask"]):
        axes[0, column].set_title(label, fontsize="small")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(title, fontsize="medium")
    save_figure(figure, paths)
