"""Network specs the workflow can run: `pvgg16` (the paper's) and `mini` (the demo world's)."""

from __future__ import annotations

from typing import Callable

from pcgc.compute.networks.base import PredictiveCodingNetwork
from pcgc.compute.networks.mini import build_mini
from pcgc.compute.networks.pvgg16 import build_pvgg16
from pcgc.spec.networks import MODELS, PCoderSpec

SPECS: dict[str, Callable[[int], PredictiveCodingNetwork]] = {
    "pvgg16": build_pvgg16,
    "mini": build_mini,
}

# What is known without building a network lives in pcgc.spec.networks (no torch); this is a view of it.
PCODERS: dict[str, tuple[PCoderSpec, ...]] = {name: info.pcoders for name, info in MODELS.items()}


def build_network(spec: str, num_classes: int) -> PredictiveCodingNetwork:
    """Build the named network with random weights."""
    try:
        builder = SPECS[spec]
    except KeyError:
        raise ValueError(f"unknown model spec {spec!r}; known specs: {', '.join(sorted(SPECS))}") from None
    return builder(num_classes)


__all__ = ["PCODERS", "PCoderSpec", "PredictiveCodingNetwork", "SPECS", "build_network"]
