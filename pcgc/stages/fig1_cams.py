"""Stage: the data of Figure 1, Grad-CAMs over time of a few (noisy) images under one shared
configuration of the coefficients.

Output HDF5 (M images, T + 1 states, H x W the image):

| dataset | shape, dtype | meaning |
|---|---|---|
| `image_id`, `image_index` | [M] | the images (index into the selection) |
| `input_display` | [M, H, W, 3] uint8 | the network input (noise included), un-normalised and clipped for display |
| `foreground`, `ignore` | [M, H, W] bool | the object's pixels, and the mask's ignore pixels |
| `cam` | [M, T+1, H, W] float16 | normalised Grad-CAM at every timestep |
| `iou` | [M, T+1, K] float64 | IoU at each of the K thresholds of attribute `thresholds` |
| `correct` | [M, T+1] bool | top-1 class == Grad-CAM target |
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pcgc.analysis.metrics import score_maps
from pcgc.compute.cam import normalize_cam
from pcgc.compute.engine import Engine
from pcgc.data.masks import IGNORE_ID
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import iou_scores
from pcgc.storage.h5io import (
    STRING,
    atomic_h5,
    open_h5,
    read_json_attr,
    require_datasets,
    string_array,
    write_json_attrs,
)
from pcgc.storage.network_inputs import NetworkInputs, Targets

log = logging.getLogger(__name__)


def choose_images(image_ids: np.ndarray, images: int | Sequence[str], seed: int) -> np.ndarray:
    """Sorted positions of the figure's images: `images` ids, or that many drawn with `seed`."""
    if isinstance(images, int):
        if not 1 <= images <= len(image_ids):
            raise ValueError(f"figures.fig1.images: {images} images asked for, the selection has {len(image_ids)}")
        return np.sort(np.random.default_rng(seed).permutation(len(image_ids))[:images])
    position = {image_id: k for k, image_id in enumerate(image_ids)}
    missing = [i for i in images if i not in position]
    if missing:
        raise ValueError(f"figures.fig1.images: {missing} are not among the selected images")
    return np.array(sorted(position[i] for i in images))


def figure1_cams(
    network: NetworkInputs,
    *,
    beta: float,
    lam: float,
    alpha: float,
    images: int | Sequence[str],
    seed: int,
    timesteps: int,
    thresholds: Sequence[float],
    out_h5: Path,
    config: Mapping[str, Any] | None = None,
) -> None:
    selection_h5, inputs_h5 = network.selection_h5, network.inputs_h5
    chosen = choose_images(Targets.read(selection_h5).image_id, images, seed)
    with open_h5(selection_h5) as selection:
        require_datasets(selection, ["mask_ids", "class_id"], selection_h5)
        mask_ids = selection["mask_ids"][chosen].astype(np.int32)
        class_id = selection["class_id"][chosen]
    targets, dynamics = network.load()
    torch_device = next(dynamics.net.parameters()).device
    hps = HyperParameters.uniform(dynamics.net.num_pcoders, beta, lam, alpha)
    with open_h5(inputs_h5) as source:
        targets.check_inputs(source, inputs_h5, selection_h5)
        x = torch.from_numpy(source["inputs"][chosen]).to(torch_device)
        normalization = read_json_attr(source, "normalization", inputs_h5)
        noise = read_json_attr(source, "noise", inputs_h5)
    cam_targets = torch.from_numpy(targets.cam_target[chosen]).to(torch_device)
    (block,) = Engine(dynamics, batch_size=len(chosen), diagnostics=False, precision=network.precision).run(x, cam_targets, [hps], timesteps)
    masks = torch.from_numpy(mask_ids).to(torch_device)
    size = tuple(mask_ids.shape[1:])
    iou = score_maps(block.cam_raw, masks, torch.from_numpy(class_id).to(torch_device), iou_scores(thresholds))
    mean = np.asarray(normalization["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(normalization["std"], dtype=np.float32).reshape(1, 3, 1, 1)
    display = np.clip(x.cpu().numpy() * std + mean, 0, 1).transpose(0, 2, 3, 1)
    with atomic_h5(out_h5) as out:
        out.create_dataset("image_id", data=string_array(targets.image_id[chosen]), dtype=STRING)
        out.create_dataset("image_index", data=chosen)
        out.create_dataset("input_display", data=np.round(display * 255).astype(np.uint8))
        out.create_dataset("foreground", data=mask_ids == class_id.reshape(-1, 1, 1))
        out.create_dataset("ignore", data=mask_ids == IGNORE_ID)
        out.create_dataset("cam", data=normalize_cam(block.cam_raw, size).cpu().numpy().astype(np.float16))
        out.create_dataset("iou", data=iou.permute(1, 2, 0).cpu().numpy())
        out.create_dataset("correct", data=(block.top1 == cam_targets[:, None]).cpu().numpy())
        write_json_attrs(
            out,
            {
                "hyperparameters": hps.as_dict(),
                "shared": {"beta": beta, "lambda": lam, "alpha": alpha},
                "thresholds": list(thresholds),
                "timesteps": timesteps,
                "noise": noise,
                **network.provenance(dynamics),
                "config": dict(config or {}),
            },
        )
    log.info("Figure 1 data: %d images x %d states -> %s", len(chosen), timesteps + 1, out_h5)
