"""Small stage inputs written in the workflow's own formats: a selection, its inputs and weights."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pcgc.compute.networks import PredictiveCodingNetwork
from pcgc.data.noise import make_inputs
from pcgc.spec.networks import pmodule_filename
from pcgc.storage.checkpoints import save_network_weights
from pcgc.storage.h5io import STRING, string_array, write_json_attrs
from pcgc.storage.network_inputs import NetworkInputs


def write_stage_inputs(folder: Path, net: PredictiveCodingNetwork, count: int, seed: int = 0) -> dict[str, Path | list[Path]]:
    """selection.h5 (random images, one rectangle object each), inputs.h5 (sigma 0) and weights."""
    rng = np.random.default_rng(seed)
    size = net.input_size
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)
    class_id = rng.integers(1, net.num_classes + 1, count).astype(np.int32)
    masks = np.zeros((count, size, size), dtype=np.uint16)
    for i in range(count):
        top, left = rng.integers(0, size // 2, 2)
        masks[i, top : top + size // 3, left : left + size // 3] = class_id[i]
        masks[i, top, left : left + size // 3] = 1000  # an ignored boundary row
    image_id = [f"img_{i:03d}" for i in range(count)]
    selection = folder / "selection.h5"
    with h5py.File(selection, "w") as h5:
        h5.create_dataset("images", data=images)
        h5.create_dataset("mask_ids", data=masks)
        h5.create_dataset("image_id", data=string_array(image_id), dtype=STRING)
        h5.create_dataset("class_id", data=class_id)
        h5.create_dataset("cam_target", data=(class_id - 1).astype(np.int64))
        write_json_attrs(
            h5, {"num_classifier_classes": net.num_classes, "selection": {"cam_target": "imagenet_s"}, "geometry": {"crop": size}}
        )
    inputs = folder / "inputs.h5"
    with h5py.File(inputs, "w") as h5:
        data = make_inputs(images, image_id, sigma=0.0, space="normalized", clip=False, seed=0, mean=net.mean, std=net.std)
        h5.create_dataset("inputs", data=data)
        h5.create_dataset("image_id", data=string_array(image_id), dtype=STRING)
        write_json_attrs(h5, {"noise": {"sigma": 0.0}, "geometry": {"crop": size}})
    backbone = folder / "backbone.pth"
    pmodules = [folder / pmodule_filename("test", n) for n in range(1, net.num_pcoders + 1)]
    save_network_weights(net, backbone, pmodules)
    return {"selection": selection, "inputs": inputs, "backbone": backbone, "pmodules": pmodules}


def stage_network(files: dict, **settings) -> NetworkInputs:
    """How a stage runs the network on `write_stage_inputs`' files: the mini spec, fp32, on the CPU,
    unless `settings` (NetworkInputs fields) say otherwise."""
    return NetworkInputs(
        files["selection"], files["inputs"], files["backbone"], tuple(files["pmodules"]),
        **{"spec": "mini", "gradient_scaling": False, "precision": "fp32", "device": "cpu", **settings},
    )
