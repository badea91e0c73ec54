"""A network that predictive-coding dynamics can run on: a backbone cut into stages, plus PCoders.

PCoder n sits at the output of stage n. Its predictor (`pmodule`) maps its representation to a
prediction of what lies below it: the input image for PCoder 1, the representation of PCoder n-1
otherwise. The head maps the top representation to class logits; Grad-CAM is taken on that top
representation ("after the last convolutional layer"). Where the head itself begins with
convolutions (EfficientNet's `conv_head`), the network names the module whose output is the head's
last convolutional activation (`head_layer`), and the head is the pair (up to that activation, the
rest): the CAM layer `head`.

The stages and the head hold the very module objects of the original backbone, so the backbone's
own state dict (e.g. torchvision's VGG16 weights) loads into `backbone` unchanged, and running the
stages then the head is exactly the backbone's forward pass.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from pcgc.spec.networks import PCoderSpec


class PredictiveCodingNetwork(nn.Module):
    """A backbone split into stages at the PCoders, plus one predictor per PCoder.

    Registered submodules are `backbone` (the original classifier) and `pmodules` (the predictors),
    so `state_dict()` has the keys `backbone.*` and `pmodules.{n-1}.*`. `stages` and `head` are
    views onto the backbone's modules and are not registered a second time.
    """

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        stages: Sequence[nn.Module],
        head: nn.Module,
        pmodules: Sequence[nn.Module],
        pcoders: Sequence[PCoderSpec],
        num_classes: int,
        input_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        head_layer: str | None = None,
    ) -> None:
        super().__init__()
        if not (len(stages) == len(pmodules) == len(pcoders)):
            raise ValueError(
                f"network {name!r}: {len(stages)} stages, {len(pmodules)} predictors and "
                f"{len(pcoders)} PCoder specs; they must be equal in number"
            )
        if pcoders[-1].has_feedback:
            raise ValueError(f"network {name!r}: the top PCoder has nothing above it to feed back")
        if head_layer is not None and not (isinstance(head, nn.Sequential) and len(head) == 2):
            raise ValueError(
                f"network {name!r}: with a head layer ({head_layer}) the head must be nn.Sequential(up to "
                f"that layer's output, the rest), got {type(head).__name__}"
            )
        self.head_layer = head_layer
        self.name = name
        self.backbone = backbone
        self.pmodules = nn.ModuleList(pmodules)
        self.pcoders = tuple(pcoders)
        self.num_classes = num_classes
        self.input_size = input_size
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        # Plain tuples: these modules are already registered under `backbone`.
        self._stages = tuple(stages)
        self._head = head
        for module in backbone.modules():
            if hasattr(module, "inplace"):
                # An in-place op after a PCoder would overwrite the representation it holds.
                module.inplace = False
        self.eval()

    @property
    def stages(self) -> tuple[nn.Module, ...]:
        return self._stages

    @property
    def head(self) -> nn.Module:
        return self._head

    @property
    def head_parts(self) -> tuple[nn.Module, nn.Module]:
        """(up to the head layer's activation, from it to the logits); only with a `head_layer`."""
        if self.head_layer is None:
            raise ValueError(f"network {self.name!r} has no head layer: its head has no convolution")
        return self._head[0], self._head[1]

    @property
    def num_pcoders(self) -> int:
        return len(self.pcoders)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The plain feedforward backbone: identical to the dynamics at t = 0."""
        return self.backbone(x)

    def describe(self) -> dict:
        """A JSON-able description, recorded in every output the network produced."""
        description = {
            "name": self.name,
            "num_classes": self.num_classes,
            "input_size": self.input_size,
            "mean": list(self.mean),
            "std": list(self.std),
            "pcoders": [
                {
                    "index": i + 1,
                    "module": spec.module,
                    "has_feedback": spec.has_feedback,
                    "pmodule": repr(pmodule),
                }
                for i, (spec, pmodule) in enumerate(zip(self.pcoders, self.pmodules))
            ],
        }
        if self.head_layer is not None:  # only where there is one: older outputs' descriptions stay as they were
            description["head_layer"] = self.head_layer
        return description


def vgg_layout_network(
    name: str,
    backbone: nn.Module,
    pcoders: Sequence[PCoderSpec],
    pmodules: Sequence[nn.Module],
    **details,
) -> PredictiveCodingNetwork:
    """A network over a VGG-layout backbone (`features` -> `avgpool` -> flatten -> `classifier`)
    whose PCoders sit on modules of `features`: the stages are the pieces of `features` that end
    at each PCoder, the head is the rest of `features` followed by the classifier."""
    cut_after = [int(spec.module.removeprefix("features.")) for spec in pcoders]
    stages, start = [], 0
    for end in cut_after:
        stages.append(backbone.features[start : end + 1])
        start = end + 1
    head = nn.Sequential(backbone.features[start:], backbone.avgpool, nn.Flatten(1), backbone.classifier)
    return PredictiveCodingNetwork(
        name=name, backbone=backbone, stages=stages, head=head, pmodules=pmodules, pcoders=pcoders, **details
    )
