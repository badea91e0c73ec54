"""Grad-CAM (Selvaraju et al. 2017) on the top PCoder's representation, at any timestep.

For activations A (the top rep, [B, K, h, w]) and the score y = logit of the target class:
`w_k = mean_ij dy/dA_k[i, j]` and the raw map is `sum_k w_k A_k` (stored before the ReLU, so that
other normalisations stay possible). `normalize_cam` turns raw maps into what is scored, the way
pytorch-grad-cam does: ReLU, per-image min-max at feature resolution, bilinear resize
(align_corners=False), per-image min-max again. A map that is zero everywhere stays zero.

The gradient only flows through the head (the layers after the top PCoder), whose graph
`PCDynamics.readout` keeps, so it costs one small backward pass per timestep and no re-run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pcgc.dynamics import Readout

# pytorch-grad-cam's epsilon in its min-max scaling (utils/image.py, scale_cam_image).
MINMAX_EPSILON = 1e-7


@dataclass(frozen=True)
class CamResult:
    raw: torch.Tensor
    """[B, h, w] sum_k w_k A_k before the ReLU."""
    weights: torch.Tensor
    """[B, K] channel weights w_k."""
    score: torch.Tensor
    """[B] the target-class logit y."""


def grad_cam(readout: Readout, target_class: torch.Tensor) -> CamResult:
    """Grad-CAM of `target_class` ([B] class indices) for every image of the readout's batch."""
    logits, activation = readout.logits, readout.activation
    if target_class.shape != (logits.shape[0],):
        raise ValueError(
            f"need one target class per image: got shape {tuple(target_class.shape)} for a batch of {logits.shape[0]}"
        )
    if int(target_class.min()) < 0 or int(target_class.max()) >= logits.shape[1]:
        raise ValueError(f"target classes must lie in [0, {logits.shape[1]}), got {target_class.tolist()}")
    score = logits.gather(1, target_class.view(-1, 1).to(logits.device)).squeeze(1)
    # Images are independent through the head, so the gradient of the sum is per image.
    (gradient,) = torch.autograd.grad(score.sum(), activation)
    weights = gradient.mean(dim=(2, 3))
    raw = torch.einsum("bk,bkhw->bhw", weights, activation.detach())
    return CamResult(raw=raw.detach(), weights=weights.detach(), score=score.detach())


def _minmax(maps: torch.Tensor) -> torch.Tensor:
    flat = maps.flatten(-2)
    low = flat.min(-1, keepdim=True).values
    flat = flat - low
    flat = flat / (MINMAX_EPSILON + flat.max(-1, keepdim=True).values)
    return flat.view_as(maps)


def normalize_cam(raw: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Raw maps [..., h, w] -> maps in [0, 1] at `size` (H, W), as pytorch-grad-cam scales them."""
    leading = raw.shape[:-2]
    maps = _minmax(torch.relu(raw.float())).reshape(-1, 1, *raw.shape[-2:])
    maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)
    return _minmax(torch.relu(maps)).reshape(*leading, *size)
