"""A PCoder's prediction, its per-image error and the error's gradient with respect to the rep.

For an image i with representation r_i, prediction P(r_i) and target y_i (m elements each),

    err_i = mean((P(r_i) - y_i) ** 2),    d err_i / d r_i = J_P(r_i)^T (2 (P(r_i) - y_i) / m).

Predify's predictors are a transposed convolution, alone or followed by a ReLU (PVGG16), and
behind a bilinear x2 upsampling where the layer below has twice the resolution (PEfficientNet-B0).
For those the vector-Jacobian product is written out: the ReLU keeps the cotangent where the
prediction is positive, the adjoint of a transposed convolution is the plain convolution with the
same weight, stride, padding and dilation, and that of the upsampling is its backward kernel. Those
are the very kernels autograd would call, without building a graph, saving activations or the
three elementwise passes of `pow`'s backward. Any other predictor goes through autograd
(`torch.func.vjp`), so a new predictor design needs no code here.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

Adjoint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(prediction, cotangent of the prediction) -> cotangent of the representation."""


def _transposed_convolution_adjoint(conv: nn.ConvTranspose2d, relu: bool) -> Adjoint | None:
    if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        return None

    def adjoint(prediction: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
        # In the prediction's precision, as autograd would differentiate the transposed convolution.
        cotangent = cotangent.to(prediction.dtype)
        if relu:
            # ReLU's derivative, as autograd takes it: 1 where the output is positive, else 0.
            cotangent = cotangent * (prediction > 0)
        return F.conv2d(cotangent, conv.weight, None, conv.stride, conv.padding, conv.dilation)

    return adjoint


def _upsampling_adjoint(upsample: nn.Upsample, then: Adjoint) -> Adjoint | None:
    """The adjoint of an integer-factor bilinear upsampling followed by a layer with adjoint `then`."""
    factors = upsample.scale_factor if isinstance(upsample.scale_factor, tuple) else (upsample.scale_factor,) * 2
    if (
        upsample.mode != "bilinear"
        or upsample.size is not None
        or upsample.recompute_scale_factor
        or len(factors) != 2
        or not all(f is not None and float(f).is_integer() and f >= 1 for f in factors)
    ):
        return None
    scale_h, scale_w = (float(f) for f in factors)
    align_corners = bool(upsample.align_corners)

    def adjoint(prediction: torch.Tensor, cotangent: torch.Tensor) -> torch.Tensor:
        upsampled = then(prediction, cotangent)
        height, width = upsampled.shape[-2:]
        size = [upsampled.shape[0], upsampled.shape[1], int(height // scale_h), int(width // scale_w)]
        return torch.ops.aten.upsample_bilinear2d_backward(
            upsampled, [height, width], size, align_corners, scale_h, scale_w
        )

    return adjoint


def explicit_adjoint(pmodule: nn.Module) -> Adjoint | None:
    """The written-out adjoint of a predictor of a known structure, or None (use autograd)."""
    if isinstance(pmodule, nn.ConvTranspose2d):
        return _transposed_convolution_adjoint(pmodule, relu=False)
    if not isinstance(pmodule, nn.Sequential) or len(pmodule) == 0:
        return None
    layers = list(pmodule)
    if isinstance(layers[0], nn.Upsample) and len(layers) > 1:
        then = explicit_adjoint(nn.Sequential(*layers[1:]))
        return None if then is None else _upsampling_adjoint(layers[0], then)
    if len(layers) == 1:
        return explicit_adjoint(layers[0])
    if len(layers) == 2 and isinstance(layers[0], nn.ConvTranspose2d) and isinstance(layers[1], nn.ReLU):
        return _transposed_convolution_adjoint(layers[0], relu=True)
    return None


class Predictor:
    """One PCoder's predictor with the cheapest exact way to differentiate its error."""

    def __init__(self, pmodule: nn.Module, *, use_autograd: bool = False) -> None:
        self.pmodule = pmodule
        self.adjoint = None if use_autograd else explicit_adjoint(pmodule)

    @torch.no_grad()
    def __call__(
        self, rep: torch.Tensor, target: torch.Tensor, with_gradient: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The prediction, the per-image error [B] (float32 or wider) and, if asked, its gradient."""
        if with_gradient and self.adjoint is None:
            with torch.enable_grad():
                prediction, pullback = torch.func.vjp(self.pmodule, rep.detach())
        else:
            prediction, pullback = self.pmodule(rep), None
        # The difference in at least float32: the error of a bfloat16 prediction is still summed
        # over a million elements per image.
        difference = prediction.to(torch.promote_types(prediction.dtype, torch.float32)) - target
        per_image = difference[0].numel()
        error = difference.flatten(1).square().mean(1)
        if not with_gradient:
            return prediction, error, None
        cotangent = difference.mul_(2 / per_image)
        if self.adjoint is not None:
            gradient = self.adjoint(prediction, cotangent)
        else:
            (gradient,) = pullback(cotangent.to(prediction.dtype))
        return prediction, error, gradient
