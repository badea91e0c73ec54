"""Class activation maps of the target class at any timestep, for any PCoder's representation.

The methods themselves are a registry (`pcgc.compute.cam_methods`: Grad-CAM, Grad-CAM++, XGrad-CAM,
HiResCAM, LayerCAM, EigenCAM). This module says which layer a map is taken on, computes every
requested (method, layer) map of a readout in one backward pass, and normalises raw maps the way
pytorch-grad-cam does.

Layers are named `pcoder1` .. `pcoder{N}`: the representation of that PCoder. The top one,
`pcoder{N}`, is the default (the paper's Grad-CAM layer); its gradient only flows through the head,
whose graph `PCDynamics.readout` keeps. Where the head has convolutions of its own (EfficientNet's
`conv_head` -> `bn2`), `head` is its last convolutional activation, the layer Grad-CAM takes on a
plain EfficientNet: it is a function of the top representation at the same timestep only, so its
gradient flows through the rest of the head alone. For a lower PCoder n the gradient is that of the target
logit at timestep t with respect to the representation of PCoder n at t, through this timestep's
feedforward path to the head, with the previous state held fixed: above n each PCoder m contributes
`beta_m * d stage_m` (plain `d stage_m` at t = 0, where rep = ff). This is the partial derivative
of the logit at t with respect to rep_n(t) in the dynamics' own computation (the feedback,
memory and error terms of step t come from step t - 1), and what pytorch-grad-cam sees when it
hooks rep_n(t) in a model unrolled to t (tests/test_cam.py).

Raw maps are stored before the ReLU, so that other normalisations stay possible. `normalize_cam`:
ReLU, per-image min-max at feature resolution, bilinear resize (align_corners=False), per-image
min-max again. A map that is zero everywhere stays zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from pcgc.compute.cam_methods import METHODS, get_method
from pcgc.compute.dynamics import Readout
from pcgc.spec.layers import layer_index, layer_name

# pytorch-grad-cam's epsilon in its min-max scaling (utils/image.py, scale_cam_image).
MINMAX_EPSILON = 1e-7
DEFAULT_METHOD = "gradcam"
@dataclass(frozen=True)
class CamRequest:
    """Which maps to compute: every method on every layer (pcgc.spec.layers: 0-based PCoder
    indices, N for the head layer) of a network with `num_pcoders` PCoders."""

    methods: tuple[str, ...]
    layers: tuple[int, ...]
    num_pcoders: int

    def __post_init__(self) -> None:
        if not self.methods or not self.layers:
            raise ValueError(f"a CAM request needs at least one method and one layer; got {self.methods}, {self.layers}")
        for layer in self.layers:
            layer_name(layer, self.num_pcoders)  # a layer of this network
        for method in self.methods:
            get_method(method)
        for group, kind in ((self.methods, "method"), (self.layers, "layer")):
            if len(set(group)) != len(group):
                raise ValueError(f"a CAM request names a {kind} twice: {list(group)}")

    @classmethod
    def default(cls, num_pcoders: int) -> "CamRequest":
        """Grad-CAM on the top representation: the paper's map."""
        return cls((DEFAULT_METHOD,), (num_pcoders - 1,), num_pcoders)

    @classmethod
    def from_config(cls, entry: dict, num_pcoders: int, *, has_head_layer: bool = False) -> "CamRequest":
        """From the config's `cam: {methods, layers}`; layers by name (`top`, `pcoder<n>`, `head`)."""
        layers = tuple(layer_index(name, num_pcoders, has_head_layer=has_head_layer) for name in entry["layers"])
        if len(set(layers)) != len(layers):
            names = [layer_name(i, num_pcoders) for i in layers]
            raise ValueError(f"cam.layers: {entry['layers']} names a layer twice (as {names})")
        return cls(tuple(entry["methods"]), layers, num_pcoders)

    def name(self, layer: int) -> str:
        return layer_name(layer, self.num_pcoders)

    def keys(self) -> list[tuple[str, str]]:
        """(method, layer name) of every map, layers in the order given, methods within each."""
        return [(method, self.name(layer)) for layer in self.layers for method in self.methods]

    def as_dict(self) -> dict[str, list[str]]:
        return {"methods": list(self.methods), "layers": [self.name(layer) for layer in self.layers]}

    @property
    def uses_gradients(self) -> bool:
        return any(METHODS[m].uses_gradients for m in self.methods)


@dataclass(frozen=True)
class CamMaps:
    raw: dict[tuple[str, str], torch.Tensor]
    """(method, layer name) -> [B, h, w] raw map, float32, detached."""
    score: torch.Tensor
    """[B] the target-class logit."""


def target_score(readout: Readout, target_class: torch.Tensor) -> torch.Tensor:
    logits = readout.logits
    if target_class.shape != (logits.shape[0],):
        raise ValueError(
            f"need one target class per image: got shape {tuple(target_class.shape)} for a batch of {logits.shape[0]}"
        )
    if int(target_class.min()) < 0 or int(target_class.max()) >= logits.shape[1]:
        raise ValueError(f"target classes must lie in [0, {logits.shape[1]}), got {target_class.tolist()}")
    return logits.gather(1, target_class.view(-1, 1).to(logits.device)).squeeze(1)


def compute_cams(readout: Readout, target_class: torch.Tensor, request: CamRequest) -> CamMaps:
    """Every map of `request` for `target_class` ([B] class indices), from one backward pass.

    The readout must have been taken with `layers` covering the request's layers."""
    missing = [request.name(layer) for layer in request.layers if layer not in readout.layers]
    if missing:
        raise ValueError(f"the readout kept no graph for layer(s) {missing}; it has {[request.name(i) for i in readout.layers]}")
    score = target_score(readout, target_class)
    activations = [readout.layers[layer] for layer in request.layers]
    gradients: Sequence[torch.Tensor | None] = [None] * len(activations)
    if request.uses_gradients:
        # Images are independent through the network, so the gradient of the sum is per image.
        gradients = [g.float() for g in torch.autograd.grad(score.sum(), activations)]
    raw = {}
    for layer, activation, gradient in zip(request.layers, activations, gradients):
        activation = activation.detach().float()
        for name in request.methods:
            method = METHODS[name]
            raw[(name, request.name(layer))] = method.raw(activation, gradient if method.uses_gradients else None).detach()
    return CamMaps(raw=raw, score=score.detach())


def _minmax(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(-2)
    low = flat.min(-1, keepdim=True).values
    flat = flat - low
    flat = flat / (MINMAX_EPSILON + flat.max(-1, keepdim=True).values)
    return flat.view_as(maps)


def normalize_cam(raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Raw maps [..., h, w] -> maps in [0, 1] at `size` (H, W), as pytorch-grad-cam scales them."""
    leading = raw.shape[:-2]
    maps = _minmax(torch.relu(raw.float())).reshape(-1, 1, *raw.shape[-2:])
    maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return _minmax(torch.relu(maps)).reshape(*leading, *size)
