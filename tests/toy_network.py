"""The builder module of `toy`, a network that only the tests register (tests/test_networks.py).

It is what a new network's builder module looks like, outside pcgc: `build(num_classes)` returns a
PredictiveCodingNetwork whose PCoders sit where the record says. It reads its record when it
builds, so a test may register the record after importing this module.
"""

from __future__ import annotations

import torch
from torch import nn

from pcgc.compute.networks.base import PredictiveCodingNetwork, vgg_layout_network
from pcgc.spec.networks import NETWORKS


class ToyVGG(nn.Module):
    """Two conv+ReLU+pool blocks, VGG's layout (features -> avgpool -> flatten -> classifier)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def build(num_classes: int) -> PredictiveCodingNetwork:
    record = NETWORKS["toy"]
    pmodules = [
        nn.ConvTranspose2d(4, 3, kernel_size=3, padding=1),
        nn.Sequential(nn.ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1), nn.ReLU()),
    ]
    return vgg_layout_network(
        record.name, ToyVGG(num_classes), record.pcoders, pmodules,
        num_classes=num_classes, input_size=record.input_size, mean=record.mean, std=record.std,
    )
