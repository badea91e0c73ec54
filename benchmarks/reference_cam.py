"""The straightforward Grad-CAM of the top representation, one method alone: the reference that the
batched CAMs of `pcgc.compute.cam` are checked against (tests) and timed against (benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pcgc.compute.cam import target_score
from pcgc.compute.cam_methods import GradCam
from pcgc.compute.dynamics import Readout


@dataclass(frozen=True)
class CamResult:
    raw: torch.Tensor
    """[B, h, w] sum_k w_k A_k before the ReLU."""
    weights: torch.Tensor
    """[B, K] channel weights w_k."""
    score: torch.Tensor
    """[B] the target-class logit y."""


def grad_cam(readout: Readout, target_class: torch.Tensor) -> CamResult:
    """Grad-CAM of `target_class` ([B] class indices) on the top representation, with its weights."""
    score = target_score(readout, target_class)
    (gradient,) = torch.autograd.grad(score.sum(), readout.activation)
    activation = readout.activation.detach()
    weights = GradCam().weights(activation, gradient)
    raw = torch.einsum("bk,bkhw->bhw", weights, activation)
    return CamResult(raw=raw.detach(), weights=weights.detach(), score=score.detach())
