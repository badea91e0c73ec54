"""Stage: the network inputs of one ImageNet-C family at one severity, cached in HDF5.

The selection's 8-bit images (after pcgc's geometry) become float pixels in [0, 1], are corrupted
(pcgc.compute.corruptions: each image's draws seeded by (seed, family, severity, image id), so the
file does not depend on the chunking nor on which other images are selected), then normalised with
the network's mean and std as Gaussian noise's clean inputs are: x = (pixels - mean) / std, float32.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from pcgc.compute.corruptions import corrupt, kernel
from pcgc.spec.corruptions import FAMILIES, validate
from pcgc.spec.provenance import versions
from pcgc.storage.h5io import STRING, atomic_h5, open_h5, read_json_attr, require_datasets, write_json_attrs

log = logging.getLogger(__name__)


def write_corrupted_inputs(
    selection_h5: Path,
    out_h5: Path,
    *,
    family: str,
    severity: int,
    seed: int | None,
    frost_textures: str | None,
    mean: Sequence[float],
    std: Sequence[float],
    chunk: int = 64,
    device: torch.device | str = "cpu",
) -> None:
    """Write `inputs` [N, 3, H, W] float32 and `image_id` of the selection, corrupted and normalised.

    `seed` is None for a deterministic family (its output does not depend on one) and required for
    a random one; `frost_textures` is the folder of frost's textures (None: the installed package's).
    The corruption runs on `device`, a chunk of images at a time.
    """
    validate(family, severity)
    if FAMILIES[family].random and seed is None:
        raise ValueError(f"corrupted inputs: {family} draws random numbers and needs a seed, got None")
    # Frost's textures are looked for (and refused with the reason) before any image is read.
    kernel(family, frost_textures)
    mean_ = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_ = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    with open_h5(selection_h5) as selection:
        require_datasets(selection, ["images", "image_id"], selection_h5)
        images, image_ids = selection["images"], selection["image_id"].asstr()[:]
        count, height, width, _ = images.shape
        with atomic_h5(out_h5) as h5:
            inputs = h5.create_dataset("inputs", shape=(count, 3, height, width), dtype="f4", chunks=(1, 3, height, width))
            for start in range(0, count, chunk):
                stop = min(start + chunk, count)
                pixels = torch.from_numpy(images[start:stop].transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
                corrupted = corrupt(
                    pixels.to(device), family, severity, seed=0 if seed is None else seed,
                    image_ids=list(image_ids[start:stop]), frost_textures=frost_textures,
                ).cpu().numpy()
                inputs[start:stop] = ((corrupted - mean_) / std_).astype(np.float32)
            h5.create_dataset("image_id", data=image_ids.astype(object), dtype=STRING)
            write_json_attrs(
                h5,
                {
                    "corruption": {
                        "family": family, "group": FAMILIES[family].group, "severity": severity,
                        "seed": seed, "random": FAMILIES[family].random, "frost_textures": frost_textures,
                        "reference": "imagecorruptions 1.1.2 (docs/corruptions.md)",
                    },
                    "normalization": {"mean": list(mean), "std": list(std)},
                    "geometry": read_json_attr(selection, "geometry", selection_h5),
                    "versions": versions(),
                },
            )
    log.info("wrote %d inputs corrupted by %s at severity %d", count, family, severity)
