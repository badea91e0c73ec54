"""Class activation map methods, one small class each over a shared base (a registry).

Every method turns one layer's activations A [B, K, h, w] (and, for the gradient methods, the
gradient g = dy/dA of the target-class logit y, same shape) into a raw map [B, h, w] before any
ReLU. `pcgc.compute.cam.normalize_cam` turns a raw map into what is scored. The definitions are those of
pytorch-grad-cam 1.5.7 (each one agrees with it to 1e-5 after normalisation, tests/test_cam.py),
computed batched on the tensors' own device:

| name | reference | raw map |
|---|---|---|
| gradcam | Selvaraju et al., ICCV 2017 | sum_k w_k A_k, w_k = mean_ij g_kij |
| gradcampp | Chattopadhay et al., WACV 2018 | sum_k w_k A_k, w_k = sum_ij relu(g_kij) a_kij, a = g^2 / (2 g^2 + S_k g^3 + 1e-6), a = 0 where g = 0, S_k = sum_ij A_kij |
| xgradcam | Fu et al., BMVC 2020 | sum_k w_k A_k, w_k = sum_ij g_kij A_kij / (S_k + 1e-7) |
| hirescam | Draelos & Carin, 2020 | sum_k g_k * A_k (element by element, no spatial averaging) |
| layercam | Jiang et al., IEEE TIP 2021 | sum_k relu(g_k) * A_k |
| eigencam | Muhammad & Yeasin, IJCNN 2020 | A's pixels (rows) x channels (columns), centred per channel, projected on the first right singular vector |

EigenCAM uses no gradient. A singular vector has no sign of its own; pytorch-grad-cam's EigenCAM
keeps whatever sign its LAPACK call returns, which differs between libraries and devices. pcgc
fixes it with pytorch-grad-cam's own sign rule (`get_2d_projection_with_sign_correction`, after
Seg-Eigen-CAM): the projection is negated when its most negative value is larger in magnitude than
its largest value, so the salient side is the positive one. It is computed in float64 (the first
singular vector is sensitive to rounding when the first two singular values are close).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch

# pytorch-grad-cam's stabilisers, kept so that the maps agree with it.
GRADCAMPP_EPSILON = 1e-6
XGRADCAM_EPSILON = 1e-7


class CamMethod(ABC):
    """One CAM method: `raw(activation, gradient)` -> [B, h, w]."""

    name: ClassVar[str]
    reference: ClassVar[str]
    uses_gradients: ClassVar[bool] = True

    @abstractmethod
    def raw(self, activation: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        """The raw map of each image; `gradient` is None for a method that uses none."""


class ChannelWeightedCam(CamMethod):
    """A method whose map is a weighted sum of the activation's channels, sum_k w_k A_k."""

    @abstractmethod
    def weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """[B, K] channel weights."""

    def raw(self, activation: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        assert gradient is not None
        return torch.einsum("bk,bkhw->bhw", self.weights(activation, gradient), activation)


def _channel_sums(activation: torch.Tensor) -> torch.Tensor:
    return activation.sum(dim=(2, 3), keepdim=True)


class GradCam(ChannelWeightedCam):
    name = "gradcam"
    reference = "Selvaraju et al. 2017, Grad-CAM (ICCV)"

    def weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return gradient.mean(dim=(2, 3))


class GradCamPlusPlus(ChannelWeightedCam):
    name = "gradcampp"
    reference = "Chattopadhay et al. 2018, Grad-CAM++ (WACV)"

    def weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        squared = gradient.square()
        # The paper's alpha for an exponential score, as pytorch-grad-cam writes it; where the
        # gradient vanishes alpha is 0 (the ReLU of eq. 7 takes the rest).
        alpha = squared / (2 * squared + _channel_sums(activation) * squared * gradient + GRADCAMPP_EPSILON)
        alpha = torch.where(gradient != 0, alpha, torch.zeros_like(alpha))
        return (torch.relu(gradient) * alpha).sum(dim=(2, 3))


class XGradCam(ChannelWeightedCam):
    name = "xgradcam"
    reference = "Fu et al. 2020, Axiom-based Grad-CAM (BMVC)"

    def weights(self, activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        return (gradient * activation / (_channel_sums(activation) + XGRADCAM_EPSILON)).sum(dim=(2, 3))


class HiResCam(CamMethod):
    name = "hirescam"
    reference = "Draelos & Carin 2020, HiResCAM (arXiv:2011.08891)"

    def raw(self, activation: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        assert gradient is not None
        return (gradient * activation).sum(dim=1)


class LayerCam(CamMethod):
    name = "layercam"
    reference = "Jiang et al. 2021, LayerCAM (IEEE TIP)"

    def raw(self, activation: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        assert gradient is not None
        return (torch.relu(gradient) * activation).sum(dim=1)


class EigenCam(CamMethod):
    name = "eigencam"
    reference = "Muhammad & Yeasin 2020, Eigen-CAM (IJCNN)"
    uses_gradients = False

    def raw(self, activation: torch.Tensor, gradient: torch.Tensor | None) -> torch.Tensor:
        batch, _, height, width = activation.shape
        pixels = activation.double().flatten(2).transpose(1, 2)  # [B, h*w, K]
        pixels = pixels - pixels.mean(dim=1, keepdim=True)
        _, _, right = torch.linalg.svd(pixels, full_matrices=False)
        projection = torch.einsum("bpk,bk->bp", pixels, right[:, 0, :])
        flip = projection.min(dim=1).values.abs() > projection.max(dim=1).values.abs()
        projection = torch.where(flip.unsqueeze(1), -projection, projection)
        return projection.view(batch, height, width).to(activation.dtype)


METHODS: dict[str, CamMethod] = {
    method.name: method for method in (GradCam(), GradCamPlusPlus(), XGradCam(), HiResCam(), LayerCam(), EigenCam())
}


def get_method(name: str) -> CamMethod:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown CAM method {name!r}; known methods: {', '.join(METHODS)}") from None
