"""PVGG16: torchvision's VGG16 with Predify's five PCoders (docs/predictive-coding.md)."""

from __future__ import annotations

from torch import nn
from torchvision.models import vgg16

from pcgc.compute.networks.base import PredictiveCodingNetwork, vgg_layout_network
from pcgc.spec.networks import MODELS

INFO = MODELS["pvgg16"]
# The last ReLU of each VGG block (pcgc.spec.networks).
PCODERS = INFO.pcoders


def pvgg16_pmodules() -> list[nn.Module]:
    """The five feedback predictors, in the module layout of Predify's checkpoint files."""
    return [
        nn.ConvTranspose2d(64, 3, kernel_size=5, stride=1, padding=2),
        nn.Sequential(nn.ConvTranspose2d(128, 64, kernel_size=10, stride=2, padding=4), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(256, 128, kernel_size=14, stride=2, padding=6), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(512, 256, kernel_size=14, stride=2, padding=6), nn.ReLU()),
        nn.Sequential(nn.ConvTranspose2d(512, 512, kernel_size=14, stride=2, padding=6), nn.ReLU()),
    ]


def build_pvgg16(num_classes: int = 1000) -> PredictiveCodingNetwork:
    """PVGG16 with randomly initialised weights; load the checkpoints with `pcgc.storage.checkpoints`."""
    if num_classes != INFO.num_classes:
        raise ValueError(f"pvgg16 has {INFO.num_classes} ImageNet classes, not {num_classes}")
    return vgg_layout_network(
        "pvgg16",
        vgg16(weights=None),
        PCODERS,
        pvgg16_pmodules(),
        num_classes=INFO.num_classes,
        input_size=INFO.input_size,
        mean=INFO.mean,
        std=INFO.std,
    )
