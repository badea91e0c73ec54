"""Stage: run the dynamics on one input set with one hyperparameter set; Grad-CAM at every timestep.

Output HDF5 (README, "Extraction files"): per image and timestep the raw Grad-CAM map, the target
logit, the top-1 class and each PCoder's prediction error, with attributes recording everything
the numbers depend on.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import torch
from tqdm import tqdm

from pcgc.cam import grad_cam
from pcgc.checkpoints import load_network_weights
from pcgc.dynamics import Coefficients, HyperParameters, PCDynamics
from pcgc.h5io import STRING, atomic_h5, read_json_attr, require_datasets, write_json_attrs
from pcgc.models import build_network
from pcgc.provenance import versions

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU; asking for CUDA where there is none is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"extraction.device: {name!r} asked for, but torch sees no CUDA device")
    return device


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract(
    *,
    inputs_h5: Path,
    selection_h5: Path,
    backbone_path: Path,
    pmodule_paths: Sequence[Path],
    spec: str,
    gradient_scaling: bool,
    hps_name: str,
    hps: HyperParameters,
    timesteps: int,
    device: str,
    batch_size: int,
    out_h5: Path,
    config: Mapping[str, Any] | None = None,
) -> None:
    """Write the extraction file `out_h5`; `config` (the workflow's resolved configuration) is
    stored with it as provenance."""
    with h5py.File(selection_h5, "r") as selection:
        require_datasets(selection, ["cam_target", "image_id"], selection_h5)
        cam_targets = selection["cam_target"][:]
        selection_ids = selection["image_id"].asstr()[:]
        num_classes = read_json_attr(selection, "num_classifier_classes", selection_h5)
        selection_attrs = read_json_attr(selection, "selection", selection_h5)

    net = build_network(spec, num_classes)
    if len(hps.beta) != net.num_pcoders:
        raise ValueError(f"hyperparameters.{hps_name}: {len(hps.beta)} values per coefficient, {spec} has {net.num_pcoders} PCoders")
    load_network_weights(net, backbone_path, pmodule_paths)
    torch_device = resolve_device(device)
    net.to(torch_device)
    dynamics = PCDynamics(net, gradient_scaling=gradient_scaling)

    with h5py.File(inputs_h5, "r") as source, atomic_h5(out_h5) as out:
        require_datasets(source, ["inputs", "image_id"], inputs_h5)
        if list(source["image_id"].asstr()[:]) != list(selection_ids):
            raise ValueError(f"{inputs_h5}: its images are not those of {selection_h5}; rebuild the inputs")
        inputs = source["inputs"]
        count = inputs.shape[0]
        states = timesteps + 1
        num_pcoders = net.num_pcoders
        out.create_dataset("image_id", data=selection_ids.astype(object), dtype=STRING)
        out.create_dataset("cam_target", data=cam_targets)
        target_logit = out.create_dataset("target_logit", shape=(count, states), dtype="f4")
        top1 = out.create_dataset("top1", shape=(count, states), dtype="i4")
        errors = out.create_dataset("prediction_error", shape=(count, states, num_pcoders), dtype="f4")
        cam_raw = None
        start_time = time.perf_counter()
        progress = tqdm(total=count, unit="img", desc=f"extract {hps_name}", file=sys.stderr, dynamic_ncols=True)
        for start in range(0, count, batch_size):
            stop = min(start + batch_size, count)
            x = torch.from_numpy(inputs[start:stop]).to(torch_device)
            targets = torch.from_numpy(cam_targets[start:stop]).to(torch_device)
            coefficients = Coefficients.broadcast(hps, stop - start, device=torch_device)
            maps, logits, classes, pcoder_errors = [], [], [], []
            for readout in dynamics.run(x, timesteps, coefficients):
                result = grad_cam(readout, targets)
                maps.append(result.raw)
                logits.append(result.score)
                classes.append(readout.logits.detach().argmax(1))
                pcoder_errors.append(readout.errors)
            stacked = torch.stack(maps, 1).cpu().numpy()
            if cam_raw is None:
                cam_raw = out.create_dataset(
                    "cam_raw", shape=(count, states) + stacked.shape[2:], dtype="f4", chunks=(1, states) + stacked.shape[2:]
                )
            cam_raw[start:stop] = stacked
            target_logit[start:stop] = torch.stack(logits, 1).cpu().numpy()
            top1[start:stop] = torch.stack(classes, 1).cpu().numpy()
            errors[start:stop] = torch.stack(pcoder_errors, 1).cpu().numpy()
            progress.update(stop - start)
        progress.close()
        seconds = time.perf_counter() - start_time
        accuracy = (top1[:] == cam_targets[:, None]).mean(0)
        write_json_attrs(
            out,
            {
                "hyperparameter_set": hps_name,
                "hyperparameters": hps.as_dict(),
                "timesteps": timesteps,
                "model": net.describe(),
                "gradient_scaling": gradient_scaling,
                "cam_layer": f"rep of PCoder {num_pcoders} ({net.pcoders[-1].module})",
                "cam_target": selection_attrs["cam_target"],
                "noise": read_json_attr(source, "noise", inputs_h5),
                "geometry": read_json_attr(source, "geometry", inputs_h5),
                "weights": {str(p): sha256_of(Path(p)) for p in [backbone_path, *pmodule_paths]},
                "versions": versions(),
                "device": str(torch_device),
                "config": dict(config or {}),
            },
        )
    log.info(
        "%d images x %d states in %.1f s (%.1f image-timesteps/s on %s); top-1 by timestep: %s",
        count, states, seconds, count * states / seconds, torch_device, " ".join(f"{a:.3f}" for a in accuracy),
    )
