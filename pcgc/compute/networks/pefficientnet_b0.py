"""PEfficientNet-B0: timm's EfficientNet-B0 with Predify's eight PCoders (docs/networks.md, "A worked
example: PEfficientNet-B0").

The stages are the stem (`conv_stem`, then `bn1`, a BatchNormAct2d whose output is the activation
Predify hooked as `act1`) and the seven stages of blocks (`blocks[0]` .. `blocks[6]`). The head is
the rest of timm's forward pass: `conv_head`, `bn2`, global average pooling and the classifier. Its
first two make the head's last convolutional activation (1280 x 7 x 7 at 224 x 224), the CAM layer
`head` (pcgc.compute.cam).

Every predictor is a 3 x 3 transposed convolution, stride 1, padding 1; where the PCoder below has
twice the resolution, a bilinear x2 upsampling (align_corners=False) comes first. None has a ReLU:
an EfficientNet representation is a SiLU or linear output, negative values included.
"""

from __future__ import annotations

from torch import nn

from pcgc.compute.networks.base import PredictiveCodingNetwork
from pcgc.spec.networks import NETWORKS

try:
    import timm
except ModuleNotFoundError as err:  # an optional dependency: say how to get it
    raise ModuleNotFoundError(
        f"the pefficientnet_b0 network needs timm ({err}); install it with: pip install 'pcgc[timm]'"
    ) from err

RECORD = NETWORKS["pefficientnet_b0"]

# (channels of the PCoder's representation, channels of what it predicts, upsample first), PCoder 1..8.
PREDICTORS = (
    (32, 3, True),
    (16, 32, False),
    (24, 16, True),
    (40, 24, True),
    (80, 40, True),
    (112, 80, False),
    (192, 112, True),
    (320, 192, False),
)


def pefficientnet_b0_pmodules() -> list[nn.Module]:
    """The eight feedback predictors, in the module layout of Predify's checkpoints (keys `0.*`,
    or `1.*` behind the upsampling)."""
    pmodules = []
    for channels, below, upsample in PREDICTORS:
        layers = [nn.Upsample(scale_factor=(2.0, 2.0), mode="bilinear")] if upsample else []
        layers.append(nn.ConvTranspose2d(channels, below, kernel_size=3, stride=1, padding=1))
        pmodules.append(nn.Sequential(*layers))
    return pmodules


def build(num_classes: int = 1000) -> PredictiveCodingNetwork:
    """PEfficientNet-B0 with randomly initialised weights; load the checkpoints with `pcgc.storage.checkpoints`."""
    if num_classes != RECORD.num_classes:
        raise ValueError(f"pefficientnet_b0 has {RECORD.num_classes} ImageNet classes, not {num_classes}")
    backbone = timm.create_model("efficientnet_b0", pretrained=False, num_classes=num_classes)
    stages = [nn.Sequential(backbone.conv_stem, backbone.bn1), *backbone.blocks]
    # timm's forward_head: pooling, dropout (a no-op in eval mode, where the dynamics run), classifier.
    head_features = nn.Sequential(backbone.conv_head, backbone.bn2)
    classifier = nn.Sequential(backbone.global_pool, backbone.classifier)
    return PredictiveCodingNetwork(
        name=RECORD.name,
        backbone=backbone,
        stages=stages,
        head=nn.Sequential(head_features, classifier),
        pmodules=pefficientnet_b0_pmodules(),
        pcoders=RECORD.pcoders,
        num_classes=num_classes,
        input_size=RECORD.input_size,
        mean=RECORD.mean,
        std=RECORD.std,
        head_layer=RECORD.head_layer,
    )
