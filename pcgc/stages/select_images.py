"""Stage: draw the analysed images from a dataset, and fix their pixels and masks.

The images are drawn with a seeded permutation of the dataset's sorted samples and taken in that
order; an image whose object lies entirely outside the centre crop cannot be scored and is passed
over, and every such image is named in the log and in the output's `excluded` attribute.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import ImageNetS
from pcgc.spec.provenance import versions
from pcgc.storage.atomic import atomic_path
from pcgc.storage.h5io import STRING, atomic_h5, string_array, write_json_attrs

log = logging.getLogger(__name__)


def select_images(
    dataset: ImageNetS,
    *,
    n_images: int,
    seed: int,
    geometry: Geometry,
    cam_target: str,
    out_h5: Path,
    out_table: Path,
    description: Mapping[str, Any],
) -> None:
    samples = dataset.samples()
    if n_images > len(samples):
        raise ValueError(f"selection.n_images: {n_images} images asked for, but the dataset has {len(samples)}")
    order = np.random.default_rng(seed).permutation(len(samples))
    chosen, images, masks, fractions, excluded = [], [], [], [], []
    for position in order:
        sample = samples[position]
        image, ids = dataset.load(sample, geometry)
        fraction = float(dataset.foreground(sample, ids).mean())
        if fraction == 0:
            excluded.append(sample.image_id)
            log.warning("%s: no pixel of class %d inside the crop; passed over", sample.image_path, sample.class_id)
            continue
        chosen.append(position)
        images.append(image)
        masks.append(ids)
        fractions.append(fraction)
        if len(chosen) == n_images:
            break
    if len(chosen) < n_images:
        raise ValueError(
            f"selection.n_images: only {len(chosen)} of the dataset's {len(samples)} images have their object "
            f"inside the crop ({len(excluded)} passed over); fewer than the {n_images} asked for"
        )
    # Dataset order (class, then image), which makes outputs easy to browse.
    keep = np.argsort(chosen)
    picked = [samples[chosen[i]] for i in keep]
    images = np.stack([images[i] for i in keep])
    masks = np.stack([masks[i] for i in keep]).astype(np.uint16)
    targets = np.array([dataset.cam_target(s, cam_target) for s in picked], dtype=np.int64)
    table = pd.DataFrame(
        {
            "image_index": np.arange(len(picked)),
            "image_id": [s.image_id for s in picked],
            "wnid": [s.wnid for s in picked],
            "class_id": [s.class_id for s in picked],
            "original_wnid": [s.original_wnid for s in picked],
            "cam_target": targets,
            "foreground_fraction": [fractions[i] for i in keep],
            "image_path": [str(s.image_path) for s in picked],
            "mask_path": [str(s.mask_path) for s in picked],
        }
    )
    with atomic_h5(out_h5) as h5:
        h5.create_dataset("images", data=images, chunks=(1,) + images.shape[1:])
        h5.create_dataset("mask_ids", data=masks, chunks=(1,) + masks.shape[1:], compression="gzip")
        h5.create_dataset("image_id", data=string_array(table.image_id), dtype=STRING)
        h5.create_dataset("wnid", data=string_array(table.wnid), dtype=STRING)
        h5.create_dataset("class_id", data=table.class_id.to_numpy(np.int32))
        h5.create_dataset("cam_target", data=targets)
        write_json_attrs(
            h5,
            {
                "selection": {"n_images": n_images, "seed": seed, "cam_target": cam_target},
                "geometry": geometry.describe(),
                "num_classifier_classes": len(dataset.classifier_wnids),
                "excluded": excluded,
                "dataset": dict(description),
                "versions": versions(),
            },
        )
    with atomic_path(out_table) as tmp:
        table.to_csv(tmp, index=False)
    log.info("selected %d images (%d passed over: object outside the crop)", len(picked), len(excluded))
