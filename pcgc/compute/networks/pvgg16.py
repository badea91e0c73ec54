"""PVGG16: torchvision's VGG16 with Predify's five PCoders (docs/predictive-coding.md)."""

from __future__ import annotations

from torch import nn
from torchvision.models import vgg16

from pcgc.compute.networks.base import PredictiveCodingNetwork, vgg_layout_network
from pcgc.spec.networks import NETWORKS

# Where the PCoders sit (the last ReLU of each VGG block), the input and the weight files.
RECORD = NETWORKS["pvgg16"]


def pvgg16_pmodules() -> list[nn.Module]:
    """The five feedback predictors, in the module layout of Predify's checkpoint files."""
    return [
        nn.ConvTranspose2d(64, 3, kernel_size=5, stride=1, padding=2),
        nn.Sequential(nn.ConvTranspose2d(128, 64, kernel_size=10, stride=2, padding=4), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(256, 128, kernel_size=14, stride=2, padding=6), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(512, 256, kernel_size=14, stride=2, padding=6), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(512, 512, kernel_size=14, stride=2, padding=6), nn.ReLU()),
    ]


def build(num_classes: int = 1000) -> PredictiveCodingNetwork:
    """PVGG16 with randomly initialised weights; load the checkpoints with `pcgc.storage.checkpoints`."""
    if num_classes != RECORD.num_classes:
        raise ValueError(f"pvgg16 has {RECORD.num_classes} ImageNet classes, not {num_classes}")
    return vgg_layout_network(
        "pvgg16",
        vgg16(weights=None),
        RECORD.pcoders,
        pvgg16_pmodules(),
        num_classes=RECORD.num_classes,
        input_size=RECORD.input_size,
        mean=RECORD.mean,
        std=RECORD.std,
    )
