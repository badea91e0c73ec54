"""Stage: the network inputs of one noise level, cached in HDF5."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from pcgc.data.noise import make_inputs
from pcgc.spec.provenance import versions
from pcgc.storage.h5io import STRING, atomic_h5, open_h5, read_json_attr, require_datasets, write_json_attrs

log = logging.getLogger(__name__)


def write_inputs(
    selection_h5: Path,
    out_h5: Path,
    *,
    sigma: float,
    space: str,
    clip: bool,
    seed: int,
    mean: Sequence[float],
    std: Sequence[float],
    chunk: int = 64,
) -> None:
    with open_h5(selection_h5) as selection:
        require_datasets(selection, ["images", "image_id"], selection_h5)
        images, image_ids = selection["images"], selection["image_id"].asstr()[:]
        count, height, width, _ = images.shape
        with atomic_h5(out_h5) as h5:
            inputs = h5.create_dataset("inputs", shape=(count, 3, height, width), dtype="f4", chunks=(1, 3, height, width))
            for start in range(0, count, chunk):
                stop = min(start + chunk, count)
                inputs[start:stop] = make_inputs(
                    images[start:stop], image_ids[start:stop], sigma=sigma, space=space, clip=clip,
                    seed=seed, mean=mean, std=std,
                )
            h5.create_dataset("image_id", data=image_ids.astype(object), dtype=STRING)
            write_json_attrs(
                h5,
                {
                    "noise": {"sigma": sigma, "space": space, "clip": clip, "seed": seed},
                    "normalization": {"mean": list(mean), "std": list(std)},
                    "geometry": read_json_attr(selection, "geometry", selection_h5),
                    "versions": versions(),
                },
            )
    log.info("wrote %d inputs with sigma=%g (%s space, clip=%s)", count, sigma, space, clip)
