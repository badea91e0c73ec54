"""Stage: Figure 1, the Grad-CAM of a few noisy images at every timestep (from figure1_cams' file)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pcgc.figures.fig1 import plot_cam_sequences
from pcgc.storage.h5io import open_h5, read_json_attr, require_datasets


def figure1(cams_h5: Path, out_paths: Sequence[Path], *, timesteps: str | Sequence[int]) -> None:
    """`timesteps`: the columns, `all` (t = 0..T) or a list. Each map is annotated with its IoU at
    the first threshold of the data file."""
    with open_h5(cams_h5) as h5:
        require_datasets(h5, ["image_id", "input_display", "foreground", "cam", "iou"], cams_h5)
        states = h5["cam"].shape[1]
        steps = list(range(states)) if timesteps == "all" else list(timesteps)
        beyond = [t for t in steps if t >= states]
        if beyond:
            raise ValueError(f"{cams_h5}: timesteps {beyond} asked for, it has t = 0..{states - 1}")
        cams = h5["cam"][:, steps].astype(np.float32)
        iou = h5["iou"][:, steps, 0]
        image_ids, inputs, foreground = h5["image_id"].asstr()[:], h5["input_display"][:], h5["foreground"][:]
        shared = read_json_attr(h5, "shared", cams_h5)
        sigma = read_json_attr(h5, "noise", cams_h5)["sigma"]
        threshold = read_json_attr(h5, "thresholds", cams_h5)[0]
    plot_cam_sequences(
        inputs, cams, foreground, list(image_ids), [f"t = {t}" for t in steps], out_paths,
        annotations=np.array([[f"IoU {v:.2f}" for v in row] for row in iou]),
        title=(
            f"Grad-CAM over time, Gaussian noise σ = {sigma:g}; every PCoder at β = {shared['beta']:g}, "
            f"λ = {shared['lambda']:g}, α = {shared['alpha']:g} (IoU at threshold {threshold:g})"
        ),
    )
