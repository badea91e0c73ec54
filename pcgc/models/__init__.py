"""Network specs the workflow can run: `pvgg16` (the paper's) and `mini` (the demo world's)."""

from __future__ import annotations

from typing import Callable

from pcgc.models.base import PCoderSpec, PredictiveCodingNetwork
from pcgc.models import mini, pvgg16
from pcgc.models.mini import build_mini
from pcgc.models.pvgg16 import build_pvgg16

SPECS: dict[str, Callable[[int], PredictiveCodingNetwork]] = {
    "pvgg16": build_pvgg16,
    "mini": build_mini,
}

PCODERS: dict[str, tuple[PCoderSpec, ...]] = {"pvgg16": pvgg16.PCODERS, "mini": mini.PCODERS}
# (mean, std) of each spec's input normalization, known without building the network.
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "pvgg16": (pvgg16.IMAGENET_MEAN, pvgg16.IMAGENET_STD),
    "mini": (pvgg16.IMAGENET_MEAN, pvgg16.IMAGENET_STD),
}


def build_network(spec: str, num_classes: int) -> PredictiveCodingNetwork:
    """Build the named network with random weights."""
    try:
        builder = SPECS[spec]
    except KeyError:
        raise ValueError(f"unknown model spec {spec!r}; known specs: {', '.join(sorted(SPECS))}") from None
    return builder(num_classes)


__all__ = ["NORMALIZATION", "PCODERS", "PCoderSpec", "PredictiveCodingNetwork", "SPECS", "build_network"]
