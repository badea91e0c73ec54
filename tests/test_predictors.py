"""A predictor's error and its gradient: the written-out adjoint against autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pcgc.compute.predictors import Predictor, explicit_adjoint


def autograd_reference(pmodule: nn.Module, rep: torch.Tensor, target: torch.Tensor):
    leaf = rep.detach().clone().requires_grad_(True)
    prediction = pmodule(leaf)
    error = (prediction - target).pow(2).flatten(1).mean(1)
    (gradient,) = torch.autograd.grad(error.sum(), leaf)
    return prediction.detach(), error.detach(), gradient


PREDICTORS = {
    "transposed convolution (PCoder 1)": lambda: nn.ConvTranspose2d(6, 3, kernel_size=5, stride=1, padding=2),
    "with ReLU, stride 2 (PCoders 2-5)": lambda: nn.Sequential(nn.ConvTranspose2d(8, 4, 10, stride=2, padding=4), nn.ReLU()),
    "output padding and dilation": lambda: nn.Sequential(
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, dilation=2), nn.ReLU()
    ),
    "no bias, rectangular kernel": lambda: nn.ConvTranspose2d(8, 4, (3, 5), stride=(2, 1), padding=(1, 2), bias=False),
}


@pytest.mark.parametrize("name", sorted(PREDICTORS))
def test_the_written_out_gradient_equals_autograd(name):
    torch.manual_seed(3)
    pmodule = PREDICTORS[name]().double()
    assert explicit_adjoint(pmodule) is not None
    channels = pmodule.in_channels if isinstance(pmodule, nn.ConvTranspose2d) else pmodule[0].in_channels
    rep = torch.randn(3, channels, 9, 11, dtype=torch.float64)
    target = torch.randn_like(pmodule(rep))
    prediction, error, gradient = Predictor(pmodule)(rep, target, with_gradient=True)
    expected = autograd_reference(pmodule, rep, target)
    torch.testing.assert_close(prediction, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(error, expected[1], rtol=1e-12, atol=0)
    torch.testing.assert_close(gradient, expected[2], rtol=1e-10, atol=1e-14)
    # The ReLU's zero region really is in play, so its derivative is tested.
    assert (prediction == 0).any() == isinstance(pmodule, nn.Sequential)


@pytest.mark.parametrize(
    "pmodule",
    [
        nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1), nn.Tanh()),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2),
        nn.ConvTranspose2d(8, 4, 3, padding=1, padding_mode="zeros", bias=True).requires_grad_(False),
    ],
    ids=["other structure", "grouped", "no trainable weights"],
)
def test_other_predictors_go_through_autograd_with_the_same_result(pmodule):
    torch.manual_seed(4)
    pmodule = pmodule.double()
    rep = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    target = torch.randn_like(pmodule(rep))
    explicit = explicit_adjoint(pmodule) is not None
    predictor = Predictor(pmodule, use_autograd=not explicit)
    assert predictor.adjoint is None or explicit
    _, error, gradient = predictor(rep, target, with_gradient=True)
    expected = autograd_reference(pmodule.requires_grad_(True), rep, target)
    torch.testing.assert_close(error, expected[1], rtol=1e-12, atol=0)
    torch.testing.assert_close(gradient, expected[2], rtol=1e-10, atol=1e-14)


def test_grouped_transposed_convolutions_are_left_to_autograd():
    assert explicit_adjoint(nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2)) is None


def test_without_gradient_nothing_is_differentiated():
    pmodule = nn.Sequential(nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1), nn.ReLU())
    rep = torch.randn(2, 4, 5, 5)
    prediction, error, gradient = Predictor(pmodule)(rep, torch.zeros(2, 2, 10, 10), with_gradient=False)
    assert gradient is None and not prediction.requires_grad
    torch.testing.assert_close(error, prediction.pow(2).flatten(1).mean(1))


def test_a_bfloat16_prediction_has_a_float32_error():
    pmodule = nn.ConvTranspose2d(4, 2, 3, padding=1).to(torch.bfloat16)
    rep = torch.randn(2, 4, 5, 5, dtype=torch.bfloat16)
    target = torch.randn(2, 2, 5, 5)
    prediction, error, gradient = Predictor(pmodule)(rep, target, with_gradient=True)
    assert prediction.dtype == torch.bfloat16 and error.dtype == torch.float32
    expected = (prediction.float() - target).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(error, expected)
