"""What every stage that runs the network shares: its input files, the device, the network with
its weights, the images' Grad-CAM targets from the selection, and the provenance it records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import torch

from pcgc.compute.compilation import check_compile_mode
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.networks import build_network
from pcgc.compute.precision import check_precision, prepare_network
from pcgc.spec.provenance import sha256_file, versions
from pcgc.storage.checkpoints import load_network_weights
from pcgc.storage.h5io import open_h5, read_json_attr, require_datasets

# `extraction.memory_format`: the layout of the convolution weights. The convolutions follow their
# weights' layout, and so does every tensor of the state computed from them: `channels_last`
# (NHWC) runs the whole dynamics in it, which GPUs' tensor-core kernels prefer. Results equal the
# default layout's within float32 rounding (sums in another order).
MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def resolve_device(name: str) -> torch.device:
    """`auto` is CUDA when present, else the CPU; asking for CUDA where there is none is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"extraction.device: {name!r} asked for, but torch sees no CUDA device")
    return device


def load_dynamics(
    spec: str,
    num_classes: int,
    backbone_path: Path,
    pmodule_paths: Sequence[Path],
    *,
    gradient_scaling: bool,
    device: torch.device,
    precision: str = "fp32",
    compile_mode: str = "eager",
    memory_format: str = "contiguous",
) -> PCDynamics:
    """The named network with its checkpoint files loaded, on `device`, ready to run in
    `precision` (`pcgc.compute.precision`; the engine runs it in that precision's context), its timestep
    compiled as `compile_mode` says (`pcgc.compute.compilation`), its convolution weights in
    `memory_format` (`MEMORY_FORMATS`)."""
    net = build_network(spec, num_classes)
    load_network_weights(net, backbone_path, pmodule_paths)
    net = net.to(device, memory_format=MEMORY_FORMATS[memory_format])
    return PCDynamics(prepare_network(net, precision), gradient_scaling=gradient_scaling, compile_mode=compile_mode)


def weight_hashes(backbone_path: Path, pmodule_paths: Sequence[Path]) -> dict[str, str]:
    """sha256 of each weight file, recorded in the outputs the network produced."""
    return {str(p): sha256_file(p) for p in [backbone_path, *pmodule_paths]}


def perturbation_attrs(source: h5py.File, path: Path) -> dict[str, Any]:
    """What degraded an inputs file, as the outputs computed from it record it: `{"noise": ...}`
    for a noise level (pcgc.stages.noisy_inputs), `{"corruption": ...}` for an ImageNet-C
    corruption (pcgc.stages.corrupted_inputs)."""
    for key in ("noise", "corruption"):
        if key in source.attrs:
            return {key: read_json_attr(source, key, path)}
    raise ValueError(f"{path}: records neither noise nor a corruption (attributes {sorted(source.attrs)}); rebuild the inputs")


@dataclass(frozen=True)
class Targets:
    """The selected images, their Grad-CAM classes and the classifier's size (from selection.h5)."""

    image_id: np.ndarray
    cam_target: np.ndarray
    num_classes: int
    selection: dict[str, Any]

    @classmethod
    def read(cls, selection_h5: Path) -> "Targets":
        with open_h5(selection_h5) as selection:
            require_datasets(selection, ["cam_target", "image_id"], selection_h5)
            return cls(
                image_id=selection["image_id"].asstr()[:],
                cam_target=selection["cam_target"][:],
                num_classes=read_json_attr(selection, "num_classifier_classes", selection_h5),
                selection=read_json_attr(selection, "selection", selection_h5),
            )

    def check_inputs(self, inputs: h5py.File, inputs_h5: Path, selection_h5: Path) -> None:
        """Stop if an inputs file was not made from this selection."""
        require_datasets(inputs, ["inputs", "image_id"], inputs_h5)
        if list(inputs["image_id"].asstr()[:]) != list(self.image_id):
            raise ValueError(f"{inputs_h5}: its images are not those of {selection_h5}; rebuild the inputs")


@dataclass(frozen=True)
class NetworkInputs:
    """The files a stage that runs the network reads (the selection, one noise level's inputs, the
    weights) and how to build and run the network."""

    selection_h5: Path
    inputs_h5: Path
    backbone_path: Path
    pmodule_paths: tuple[Path, ...]
    spec: str
    gradient_scaling: bool
    precision: str
    device: str
    compile_mode: str = "eager"
    memory_format: str = "contiguous"

    @classmethod
    def from_job(cls, job: Any) -> "NetworkInputs":
        """From a Snakemake job whose rule names its inputs `selection`, `inputs`, `backbone` and
        `pmodules` and its params `spec`, `gradient_scaling` and `precision` (the device, the compile
        mode and the memory format are execution settings read from the config, so that they
        rerun nothing)."""
        return cls(
            selection_h5=Path(job.input.selection),
            inputs_h5=Path(job.input.inputs),
            backbone_path=Path(job.input.backbone),
            pmodule_paths=tuple(Path(p) for p in job.input.pmodules),
            spec=job.params.spec,
            gradient_scaling=job.params.gradient_scaling,
            precision=job.params.precision,
            device=job.config["extraction"]["device"],
            compile_mode=job.config["extraction"]["compile"],
            memory_format=job.config["extraction"]["memory_format"],
        )

    def load(self) -> tuple[Targets, PCDynamics]:
        """The selection's targets, and the network with its weights on the device."""
        device = resolve_device(self.device)
        check_precision(self.precision, device)
        check_compile_mode(self.compile_mode, device)
        if self.memory_format not in MEMORY_FORMATS:
            raise ValueError(f"extraction.memory_format: {self.memory_format!r} is not one of {', '.join(MEMORY_FORMATS)}")
        targets = Targets.read(self.selection_h5)
        dynamics = load_dynamics(
            self.spec, targets.num_classes, self.backbone_path, self.pmodule_paths,
            gradient_scaling=self.gradient_scaling, device=device, precision=self.precision,
            compile_mode=self.compile_mode, memory_format=self.memory_format,
        )
        return targets, dynamics

    def provenance(self, dynamics: PCDynamics) -> dict[str, Any]:
        """What the numbers a stage writes depend on, besides its own settings."""
        net = dynamics.net
        return {
            "model": net.describe(),
            "gradient_scaling": self.gradient_scaling,
            "precision": self.precision,
            "cam_layer": f"rep of PCoder {net.num_pcoders} ({net.pcoders[-1].module})",
            "weights": weight_hashes(self.backbone_path, self.pmodule_paths),
            "versions": versions(),
            "device": str(next(net.parameters()).device),
            "compile": dynamics.compile_mode,
            "memory_format": self.memory_format,
        }
