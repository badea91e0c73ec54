"""Stage `sweep_maps`: the raw maps a sweep kept (`store_maps`), merged from its chunks into one file."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from pcgc.spec.sweeps import Cell
from pcgc.stages.sweep_merge import SweepChunks
from pcgc.storage.h5io import atomic_h5, require_datasets, write_json_attrs


def merge_maps(chunk_paths: Sequence[Path], cells: Sequence[Cell], out_maps: Path) -> None:
    """The raw maps the sweep kept (`store_maps`), one file: `cam_raw` [cells, M, T+1, h, w]
    float16 and `image_index` [M], with the cells in the `cells` attribute (in row order)."""
    with SweepChunks(chunk_paths) as chunks:
        for path, handle in zip(chunk_paths, chunks.handles):
            require_datasets(handle, ["cam_raw", "map_image_index"], path)
        with atomic_h5(out_maps) as h5:
            h5.create_dataset("cam_raw", data=np.stack([chunks.get(c.configuration, "cam_raw") for c in cells]))
            h5.create_dataset("image_index", data=chunks.handles[0]["map_image_index"][:])
            write_json_attrs(h5, {"cells": [c.as_dict() for c in cells], "timesteps": chunks.timesteps})
