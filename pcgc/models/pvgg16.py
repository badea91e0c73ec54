"""PVGG16: torchvision's VGG16 with Predify's five PCoders (docs/predictive-coding.md)."""

from __future__ import annotations

from torch import nn
from torchvision.models import vgg16

from pcgc.models.base import PCoderSpec, PredictiveCodingNetwork, vgg_layout_network

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The last ReLU of each VGG block; Predify's defaults are the paper's hps_0.
PCODERS = (
    PCoderSpec("features.3", True, 0.20, 0.05, 0.01),
    PCoderSpec("features.8", True, 0.40, 0.10, 0.01),
    PCoderSpec("features.15", True, 0.40, 0.10, 0.01),
    PCoderSpec("features.22", True, 0.50, 0.10, 0.01),
    PCoderSpec("features.29", False, 0.60, 0.00, 0.01),
)


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
    """PVGG16 with randomly initialised weights; load the checkpoints with `pcgc.checkpoints`."""
    if num_classes != 1000:
        raise ValueError(f"pvgg16 has 1000 ImageNet classes, not {num_classes}")
    return vgg_layout_network(
        "pvgg16",
        vgg16(weights=None),
        PCODERS,
        pvgg16_pmodules(),
        num_classes=1000,
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
