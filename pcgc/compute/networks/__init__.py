"""The networks the workflow can run, built from their records (pcgc.spec.networks.NETWORKS).

Each record names its builder module; `build_network` imports it when a network is first built,
so a job imports only the code of the network it runs (docs/networks.md, "The builder module").
"""

from __future__ import annotations

import importlib

from pcgc.compute.networks.base import PredictiveCodingNetwork
from pcgc.spec.networks import network_record


def build_network(name: str, num_classes: int) -> PredictiveCodingNetwork:
    """Build the named network with random weights: its record's builder module's `build(num_classes)`."""
    record = network_record(name)
    try:
        module = importlib.import_module(record.builder)
    except ModuleNotFoundError as err:
        raise ValueError(f"network {name!r}: cannot import its builder module {record.builder!r}: {err}") from err
    build = getattr(module, "build", None)
    if not callable(build):
        raise ValueError(f"network {name!r}: builder module {record.builder!r} has no function build(num_classes)")
    net = build(num_classes)
    if not isinstance(net, PredictiveCodingNetwork):
        raise ValueError(f"network {name!r}: {record.builder}.build returned {type(net).__name__}, not a PredictiveCodingNetwork")
    if net.pcoders != record.pcoders:
        raise ValueError(f"network {name!r}: {record.builder}.build attached PCoders {net.pcoders}, its record says {record.pcoders}")
    return net


__all__ = ["PredictiveCodingNetwork", "build_network"]
