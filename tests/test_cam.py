"""Every CAM method against pytorch-grad-cam (PyPI `grad-cam`), the field's reference implementation,
on the top representation and on a lower PCoder's, at t = 0 and later."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmarks.reference_cam import grad_cam
from pcgc.compute.cam import CamRequest, compute_cams, layer_index, normalize_cam
from pcgc.compute.cam_methods import METHODS, get_method
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.spec.hyperparameters import HyperParameters
from tests.conftest import random_mini

pytorch_grad_cam = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection_with_sign_correction  # noqa: E402

THEIRS = {
    "gradcam": pytorch_grad_cam.GradCAM,
    "gradcampp": pytorch_grad_cam.GradCAMPlusPlus,
    "xgradcam": pytorch_grad_cam.XGradCAM,
    "hirescam": pytorch_grad_cam.HiResCAM,
    "layercam": pytorch_grad_cam.LayerCAM,
    "eigencam": pytorch_grad_cam.EigenCAM,
}

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


class StepByStep(nn.Module):
    """The dynamics to t - 1 (computing everything, as Predify does), then timestep t written out
    plainly from Predify's update, with an identity tap on the representation of PCoder `layer`.

    This is an independent statement of what a lower layer's gradient is: the logit at t through
    this step's feedforward path, the previous state (its reps, predictions, error gradients)
    fixed. pytorch-grad-cam hooks the tap, which is called once, at timestep t.
    """

    def __init__(self, dynamics: PCDynamics, timestep: int, hps: HyperParameters, layer: int) -> None:
        super().__init__()
        self.reference = PCDynamics(dynamics.net, skip_unneeded_work=False)
        self.timestep, self.hps, self.layer = timestep, hps, layer
        self.net = dynamics.net
        self.tap = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        previous = None
        if self.timestep > 0:
            *_, before = self.reference.run(x, self.timestep - 1, Coefficients.broadcast(self.hps, x.shape[0]))
            previous = before.state
        below = x
        for n, stage in enumerate(self.net.stages):
            drive = stage(below)
            if previous is None:
                rep = drive
            else:
                beta, lam, alpha = self.hps.beta[n], self.hps.lam[n], self.hps.alpha[n]
                if self.net.pcoders[n].has_feedback:
                    rep = beta * drive + lam * previous.predictions[n + 1] + (1 - beta - lam) * previous.reps[n]
                else:
                    rep = beta * drive + (1 - beta) * previous.reps[n]
                rep = rep - alpha * previous.gradients[n]
            if n == self.layer:
                rep = self.tap(rep)
            below = rep
        return self.net.head(below)


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


CLASSES = torch.tensor([0, 3, 5, 2])


@pytest.fixture(scope="module")
def inputs():
    torch.manual_seed(11)
    return torch.randn(4, 3, 96, 96)


@pytest.fixture(scope="module")
def our_maps(network, inputs):
    """Every method on the top layer and on PCoder 3, at t = 0 and t = 2, from one readout each."""
    dynamics = PCDynamics(network)
    request = CamRequest(tuple(METHODS), (2, 4), 5)
    maps = {}
    for timestep in (0, 2):
        *_, readout = dynamics.run(inputs, timestep, Coefficients.broadcast(HPS, 4), layers=(2,))
        computed = compute_cams(readout, CLASSES, request)
        for (method, layer), raw in computed.raw.items():
            maps[(method, layer, timestep)] = raw
        maps[("activation", 2, timestep)] = readout.layers[2].detach()
        maps[("activation", 4, timestep)] = readout.layers[4].detach()
    return maps


@pytest.mark.parametrize("timestep", [0, 2])
@pytest.mark.parametrize("layer", ["pcoder5", "pcoder3"])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_matches_pytorch_grad_cam(network, inputs, our_maps, method, layer, timestep):
    raw = our_maps[(method, layer, timestep)]
    ours = normalize_cam(raw, (96, 96)).numpy()
    model = StepByStep(PCDynamics(network), timestep, HPS, layer_index(layer, 5))
    with THEIRS[method](model=model, target_layers=[model.tap]) as cam:
        theirs = cam(input_tensor=inputs, targets=[ClassifierOutputTarget(int(c)) for c in CLASSES])
    assert theirs.shape == ours.shape == (4, 96, 96)
    assert (ours.reshape(4, -1).max(1) > 0.5).all(), "degenerate test: some maps are all zero"
    if method == "eigencam":
        # pytorch-grad-cam's EigenCAM keeps LAPACK's arbitrary sign: each of its maps is ours or
        # that of the negated projection (our sign is tested against its sign rule below).
        flipped = normalize_cam(-raw, (96, 96)).numpy()
        for i in range(4):
            closest = min((ours[i], flipped[i]), key=lambda m: np.abs(m - theirs[i]).max())
            np.testing.assert_allclose(closest, theirs[i], atol=1e-5)
    else:
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("timestep", [0, 2])
@pytest.mark.parametrize("layer", [2, 4])
def test_eigencam_sign_follows_pytorch_grad_cams_rule(our_maps, layer, timestep):
    activation = our_maps[("activation", layer, timestep)]
    theirs = get_2d_projection_with_sign_correction(activation.numpy())
    ours = our_maps[("eigencam", f"pcoder{layer + 1}", timestep)].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5 * np.abs(theirs).max(), rtol=0)
    flat = ours.reshape(4, -1)
    assert (flat.max(1) >= np.abs(flat.min(1))).all()


def test_lower_layer_gradient_is_the_partial_derivative_of_the_step(network, inputs):
    """The readout's gradient in rep_3(1) is that of the logit at t = 1 as a function of rep_3(1)
    alone, the state at t = 0 fixed: each PCoder above moves by beta times its drive's change."""
    dynamics = PCDynamics(network)
    readout = list(dynamics.run(inputs, 1, Coefficients.broadcast(HPS, 4), layers=(2,)))[1]
    (gradient,) = torch.autograd.grad(readout.logits[:, 3].sum(), readout.layers[2])
    state = readout.state

    def logit(rep3: torch.Tensor) -> torch.Tensor:
        below = rep3
        for m in (3, 4):
            drive = network.stages[m](below)
            below = state.reps[m] + HPS.beta[m] * (drive - network.stages[m](state.reps[m - 1]).detach())
        return network.head(below)[:, 3].sum()

    rep = state.reps[2].clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(logit(rep), rep)
    assert expected.abs().max() > 0
    torch.testing.assert_close(gradient, expected, rtol=1e-5, atol=1e-7)


def test_the_default_readout_records_only_the_head(network, inputs):
    readout = next(PCDynamics(network).run(inputs, 0, Coefficients.broadcast(HPS, 4)))
    assert list(readout.layers) == [4] and readout.activation.is_leaf


def test_engine_computes_what_the_request_names(network, inputs):
    dynamics = PCDynamics(network)
    request = CamRequest(("gradcam", "eigencam"), (4, 1), 5)
    (block,) = Engine(dynamics, batch_size=4, diagnostics=False, cams=request).run(inputs, CLASSES, [HPS], 2)
    assert sorted(block.cams) == sorted([("gradcam", "pcoder5"), ("eigencam", "pcoder5"), ("gradcam", "pcoder2"), ("eigencam", "pcoder2")])
    assert block.cams[("gradcam", "pcoder2")].shape == (4, 3, 48, 48)
    # The default engine's Grad-CAM is unchanged by asking for more maps.
    (plain,) = Engine(dynamics, batch_size=4, diagnostics=False).run(inputs, CLASSES, [HPS], 2)
    assert list(plain.cams) == [("gradcam", "pcoder5")]
    torch.testing.assert_close(block.cam_raw, plain.cam_raw, rtol=1e-6, atol=1e-7)
    # The relative change of the top representation, NaN at t = 0.
    assert torch.isnan(block.representation_change[:, 0]).all()
    readouts = list(dynamics.run(inputs, 2, Coefficients.broadcast(HPS, 4)))
    for t in (1, 2):
        before, after = readouts[t - 1].activation.detach(), readouts[t].activation.detach()
        expected = (after - before).flatten(1).norm(dim=1) / before.flatten(1).norm(dim=1)
        torch.testing.assert_close(block.representation_change[:, t], expected, rtol=1e-5, atol=0)


def test_bad_requests_are_named():
    with pytest.raises(ValueError, match="unknown CAM method 'scorecam'"):
        get_method("scorecam")
    with pytest.raises(ValueError, match="names a layer twice"):
        CamRequest.from_config({"methods": ["gradcam"], "layers": ["top", "pcoder5"]}, 5)
    with pytest.raises(ValueError, match="has 5 PCoders"):
        layer_index("pcoder6", 5)
    assert CamRequest.from_config({"methods": ["gradcam"], "layers": ["top", "pcoder1"]}, 5).keys() == [
        ("gradcam", "pcoder5"), ("gradcam", "pcoder1")
    ]


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
