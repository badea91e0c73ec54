"""Network specs the workflow can run: `pvgg16` (the paper's) and `mini` (the demo world's)."""

from __future__ import annotations

from typing import Callable

from pcgc.modelinfo import MODELS, PCoderSpec
from pcgc.models.base import PredictiveCodingNetwork
from pcgc.models.mini import build_mini
from pcgc.models.pvgg16 import build_pvgg16

SPECS: dict[str, Callable[[int], PredictiveCodingNetwork]] = {
    "pvgg16": build_pvgg16,
    "mini": build_mini,
}

# What is known without building a network lives in pcgc.modelinfo (no torch); this is a view of it.
PCODERS: dict[str, tuple[PCoderSpec, ...]] = {name: info.pcoders for name, info in MODELS.items()}


def build_network(spec: str, num_classes: int) -> PredictiveCodingNetwork:
    """Build the named network with random weights."""
    try:
        builder = SPECS[spec]
    except KeyError:
        raise ValueError(f"unknown model spec {spec!r}; known specs: {', '.join(sorted(SPECS))}") from None
    return builder(num_classes)


__all__ = ["PCODERS", "PCoderSpec", "PredictiveCodingNetwork", "SPECS", "build_network"]
