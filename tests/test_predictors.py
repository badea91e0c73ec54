"""A predictor's error and its gradient: the written-out adjoint against autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pcgc.compute.networks import build_network
from pcgc.compute.predictors import Predictor, explicit_adjoint
from pcgc.spec.networks import NETWORKS


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
    "in a Sequential of one (PEfficientNet-B0's PCoders 2, 6, 8)": lambda: nn.Sequential(nn.ConvTranspose2d(8, 4, 3, padding=1)),
    "behind a bilinear x2 upsampling (PEfficientNet-B0's PCoders 1, 3, 4, 5, 7)": lambda: nn.Sequential(
        nn.Upsample(scale_factor=(2.0, 2.0), mode="bilinear"), nn.ConvTranspose2d(8, 4, 3, padding=1)
    ),
    "behind an upsampling with aligned corners, then a ReLU": lambda: nn.Sequential(
        nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True), nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.ReLU()
    ),
}


def first_convolution(pmodule: nn.Module) -> nn.ConvTranspose2d:
    return pmodule if isinstance(pmodule, nn.ConvTranspose2d) else next(m for m in pmodule if isinstance(m, nn.ConvTranspose2d))


@pytest.mark.parametrize("name", sorted(PREDICTORS))
def test_the_written_out_gradient_equals_autograd(name):
    torch.manual_seed(3)
    pmodule = PREDICTORS[name]().double()
    assert explicit_adjoint(pmodule) is not None
    channels = first_convolution(pmodule).in_channels
    rep = torch.randn(3, channels, 9, 11, dtype=torch.float64)
    target = torch.randn_like(pmodule(rep))
    prediction, error, gradient = Predictor(pmodule)(rep, target, with_gradient=True)
    expected = autograd_reference(pmodule, rep, target)
    torch.testing.assert_close(prediction, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(error, expected[1], rtol=1e-12, atol=0)
    torch.testing.assert_close(gradient, expected[2], rtol=1e-10, atol=1e-14)
    # The ReLU's zero region really is in play, so its derivative is tested.
    assert (prediction == 0).any() == any(isinstance(m, nn.ReLU) for m in pmodule.modules())


@pytest.mark.parametrize(
    "pmodule",
    [
        nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(8, 4, 3, padding=1), nn.Tanh()),
        nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.ConvTranspose2d(8, 4, 3, padding=1)),
        nn.Sequential(nn.Upsample(scale_factor=1.5, mode="bilinear"), nn.ConvTranspose2d(8, 4, 3, padding=1)),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2),
        nn.ConvTranspose2d(8, 4, 3, padding=1, padding_mode="zeros", bias=True).requires_grad_(False),
    ],
    ids=["other structure", "nearest upsampling", "non-integer upsampling", "grouped", "no trainable weights"],
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


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_networks_predictors_have_a_written_out_adjoint_equal_to_autograd(name):
    """Bit for bit in float32: the same kernels as autograd's backward, so a network's numbers do
    not depend on which path computed its error gradients."""
    record = NETWORKS[name]
    torch.manual_seed(6)
    net = build_network(name, record.num_classes or 6)
    size = record.input_size if record.fixed_input else 2 * record.input_multiple
    below = torch.randn(2, 3, size, size)
    with torch.no_grad():
        for stage, pmodule in zip(net.stages, net.pmodules):
            rep = stage(below)
            assert explicit_adjoint(pmodule) is not None, pmodule
            target = torch.randn_like(below)
            written, autograd = Predictor(pmodule)(rep, target, True), Predictor(pmodule, use_autograd=True)(rep, target, True)
            assert all(torch.equal(a, b) for a, b in zip(written, autograd))
            below = rep
