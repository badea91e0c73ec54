"""Grad-CAM against pytorch-grad-cam (PyPI `grad-cam`), the field's reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pcgc.cam import grad_cam, normalize_cam
from pcgc.dynamics import Coefficients, HyperParameters, PCDynamics
from tests.conftest import random_mini

pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

HPS = HyperParameters((0.3, 0.5, 0.2, 0.4, 0.5), (0.4, 0.2, 0.5, 0.3, 0.0), (0.5, 0.2, 0.3, 0.1, 0.4))


class UnrolledToTimestep(nn.Module):
    """The dynamics run to timestep t, then the head, with an identity tap on the top rep.

    pytorch-grad-cam hooks a module and records its first call; the tap is called exactly once,
    at timestep t, which is what that library needs to see the right activation.
    """

    def __init__(self, dynamics: PCDynamics, timestep: int, hps: HyperParameters) -> None:
        super().__init__()
        self.dynamics, self.timestep, self.hps = dynamics, timestep, hps
        self.net = dynamics.net  # registered, so that the library finds the model's device
        self.tap = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coefficients = Coefficients.broadcast(self.hps, x.shape[0])
        *_, readout = self.dynamics.run(x, self.timestep, coefficients)
        return self.dynamics.net.head(self.tap(readout.activation.detach().requires_grad_(True)))


@pytest.fixture(scope="module")
def network():
    return random_mini(7, 6)


@pytest.mark.parametrize("timestep", [0, 2])
def test_matches_pytorch_grad_cam(network, timestep):
    dynamics = PCDynamics(network)
    x = torch.randn(4, 3, 96, 96)
    classes = torch.tensor([0, 3, 5, 2])
    *_, readout = dynamics.run(x, timestep, Coefficients.broadcast(HPS, 4))
    ours = normalize_cam(grad_cam(readout, classes).raw, (96, 96)).numpy()

    model = UnrolledToTimestep(dynamics, timestep, HPS)
    with pytorch_grad_cam.GradCAM(model=model, target_layers=[model.tap]) as cam:
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in classes])
    assert theirs.shape == ours.shape == (4, 96, 96)
    assert (ours.reshape(4, -1).max(1) > 0.5).all(), "degenerate test: some maps are all zero"
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_raw_map_is_the_weighted_sum(network):
    dynamics = PCDynamics(network)
    x = torch.randn(2, 3, 96, 96)
    readout = next(dynamics.run(x, 0, Coefficients.broadcast(HPS, 2)))
    classes = torch.tensor([1, 4])
    result = grad_cam(readout, classes)
    # Finite-difference-free check: recompute the gradient image by image.
    for i in range(2):
        activation = readout.activation[i : i + 1].detach().requires_grad_(True)
        score = network.head(activation)[0, classes[i]]
        (gradient,) = torch.autograd.grad(score, activation)
        weights = gradient.mean(dim=(2, 3))[0]
        expected = (weights.view(-1, 1, 1) * activation[0].detach()).sum(0)
        torch.testing.assert_close(result.raw[i], expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(result.score[i], score.detach())


def test_zero_map_stays_zero():
    raw = torch.zeros(2, 6, 6)
    raw[1] = -torch.rand(6, 6)  # negative everywhere: zero after the ReLU
    maps = normalize_cam(raw, (96, 96))
    assert torch.count_nonzero(maps) == 0


def test_normalized_range_and_shape():
    raw = torch.randn(3, 2, 6, 6)
    maps = normalize_cam(raw, (24, 20))
    assert maps.shape == (3, 2, 24, 20)
    flat = maps.flatten(-2)
    torch.testing.assert_close(flat.max(-1).values, torch.ones(3, 2), atol=1e-6, rtol=0)
    assert float(flat.min()) == 0.0


def test_needs_one_target_per_image(network):
    dynamics = PCDynamics(network)
    readout = next(dynamics.run(torch.randn(3, 3, 96, 96), 0, Coefficients.broadcast(HPS, 3)))
    with pytest.raises(ValueError, match="one target class per image"):
        grad_cam(readout, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="must lie in"):
        grad_cam(readout, torch.tensor([1, 2, 6]))
