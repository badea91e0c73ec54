"""`mini`: a narrow VGG-style network with the same five-PCoder structure as PVGG16.

It is the network of the offline demo world: small enough to train on a laptop CPU in about a
minute, deep enough that every PCoder sits where PVGG16's does (the last ReLU of each of five
blocks, each block halving the resolution). Its convolutions are batch-normalised (as in
torchvision's vgg16_bn): without it this narrow network trained from scratch often stays at chance
for many epochs. In eval mode a batch norm is a fixed per-channel affine map, so the dynamics and
their per-image independence are unaffected.
"""

from __future__ import annotations

import torch
from torch import nn

from pcgc.compute.networks.base import PredictiveCodingNetwork, vgg_layout_network
from pcgc.spec.networks import NETWORKS

RECORD = NETWORKS["mini"]
WIDTHS = (8, 16, 32, 64, 64)
# Two conv+BN+ReLU triples per block, then a 2x2 max-pool: the PCoders (RECORD.pcoders) sit at the
# last ReLUs.


class MiniVGG(nn.Module):
    """VGG's layout (features -> avgpool -> flatten -> classifier) at a fraction of its width."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = WIDTHS) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for width in widths:
            layers += [
                nn.Conv2d(in_channels, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(in_channels, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, num_classes)
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mini_pmodules(widths: tuple[int, ...] = WIDTHS) -> list[nn.Module]:
    """Transposed convolutions that map each block back to the resolution of the one below."""
    pmodules: list[nn.Module] = [nn.ConvTranspose2d(widths[0], 3, kernel_size=5, stride=1, padding=2)]
    for upper, lower in zip(widths[1:], widths[:-1]):
        pmodules.append(
            nn.Sequential(nn.ConvTranspose2d(upper, lower, kernel_size=6, stride=2, padding=2), nn.ReLU())
        )
    return pmodules


def build(num_classes: int) -> PredictiveCodingNetwork:
    """`mini` with randomly initialised weights, for a dataset of `num_classes` classes."""
    return vgg_layout_network(
        "mini",
        MiniVGG(num_classes),
        RECORD.pcoders,
        mini_pmodules(),
        num_classes=num_classes,
        input_size=RECORD.input_size,
        mean=RECORD.mean,
        std=RECORD.std,
    )
