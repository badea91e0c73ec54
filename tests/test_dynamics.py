"""The dynamics engine against the semantics of docs/predictive-coding.md."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from pcgc.compute.dynamics import Coefficients, PCDynamics, receptive_count
from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import PCoderSpec
from tests.conftest import random_mini

HPS_0 = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
# Strong coefficients so that every term visibly moves the state in a few steps.
STRONG = HyperParameters((0.3, 0.5, 0.2, 0.4, 0.5), (0.4, 0.2, 0.5, 0.3, 0.0), (0.5, 0.2, 0.3, 0.1, 0.4))


@pytest.fixture(scope="module")
def mini() -> PredictiveCodingNetwork:
    return random_mini(0, 5)


def run_all(dynamics: PCDynamics, x: torch.Tensor, timesteps: int, hps: HyperParameters):
    return list(dynamics.run(x, timesteps, Coefficients.broadcast(hps, x.shape[0])))


def test_t0_is_the_plain_backbone(mini):
    x = torch.randn(4, 3, 96, 96)
    readout = next(PCDynamics(mini).run(x, 0, Coefficients.broadcast(HPS_0, 4)))
    with torch.no_grad():
        expected = mini.backbone(x)
    assert readout.t == 0
    torch.testing.assert_close(readout.logits.detach(), expected, rtol=0, atol=0)


@pytest.mark.slow
def test_t0_is_torchvision_vgg16_for_pvgg16():
    torch.manual_seed(1)
    net = build_network("pvgg16", 1000)
    x = torch.randn(2, 3, 64, 64)  # any multiple of 32 runs; 224 is not needed for the identity
    readout = next(PCDynamics(net).run(x, 0, Coefficients.broadcast(HPS_0, 2)))
    with torch.no_grad():
        expected = net.backbone(x)
    torch.testing.assert_close(readout.logits.detach(), expected, rtol=0, atol=0)
    assert [tuple(r.shape[1:]) for r in readout.state.reps] == [
        (64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)
    ]


def test_pure_feedforward_keeps_every_timestep_equal_to_t0(mini):
    x = torch.randn(3, 3, 96, 96)
    feedforward = HyperParameters.uniform(5, 1.0, 0.0, 0.0)
    readouts = run_all(PCDynamics(mini, skip_unneeded_work=False), x, 4, feedforward)
    for readout in readouts[1:]:
        torch.testing.assert_close(readout.logits, readouts[0].logits, rtol=0, atol=0)
        for rep, rep0 in zip(readout.state.reps, readouts[0].state.reps):
            torch.testing.assert_close(rep, rep0, rtol=0, atol=0)


def test_dynamics_change_the_state(mini):
    x = torch.randn(2, 3, 96, 96)
    readouts = run_all(PCDynamics(mini), x, 2, STRONG)
    assert not torch.allclose(readouts[2].logits, readouts[0].logits)


class Scale(nn.Module):
    """Multiplies by a constant: a 'layer' whose effect is easy to follow by hand."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def tiny_network() -> PredictiveCodingNetwork:
    stage1, stage2 = Scale(2.0), Scale(3.0)
    backbone = nn.Sequential(stage1, stage2, nn.Flatten(1))
    return PredictiveCodingNetwork(
        name="tiny",
        backbone=backbone,
        stages=[stage1, stage2],
        head=nn.Flatten(1),
        pmodules=[Scale(0.5), Scale(0.25)],
        pcoders=[PCoderSpec("0", True), PCoderSpec("1", False)],
        num_classes=4,
        input_size=2,
        mean=(0.0,),
        std=(1.0,),
    )


def test_two_timesteps_by_hand_including_the_ordering():
    """Every term of the update written out; feedback from t-1, targets from t."""
    x = np.array([1.0, -2.0, 0.5, 3.0])
    (b1, l1, a1), (b2, l2, a2) = (0.3, 0.5, 0.4), (0.6, 0.0, 0.7)

    def predict(rep, w, target):
        prd = w * rep
        err = np.mean((prd - target) ** 2)
        grd = 2 * (prd - target) * w / rep.size
        return prd, err, grd

    # t = 0: feedforward.
    rep1 = 2 * x
    prd1, err1, grd1 = predict(rep1, 0.5, x)
    rep2 = 3 * rep1
    prd2, err2, grd2 = predict(rep2, 0.25, rep1)
    history = [(rep1, rep2, err1, err2)]
    for _ in range(2):
        new_rep1 = b1 * (2 * x) + l1 * prd2 + (1 - b1 - l1) * rep1 - a1 * grd1  # prd2 from t-1
        prd1, err1, grd1 = predict(new_rep1, 0.5, x)
        new_rep2 = b2 * (3 * new_rep1) + (1 - b2) * rep2 - a2 * grd2  # drive from the new rep1
        prd2, err2, grd2 = predict(new_rep2, 0.25, new_rep1)  # target: rep1 at time t
        rep1, rep2 = new_rep1, new_rep2
        history.append((rep1, rep2, err1, err2))

    net = tiny_network()
    hps = HyperParameters((b1, b2), (l1, l2), (a1, a2))
    xt = torch.tensor(x, dtype=torch.float64).view(1, 1, 2, 2)
    net = net.double()
    readouts = run_all(PCDynamics(net), xt, 2, hps)
    for readout, (rep1, rep2, err1, err2) in zip(readouts, history):
        got1, got2 = readout.state.reps
        np.testing.assert_allclose(got1.flatten().numpy(), rep1, rtol=1e-12)
        np.testing.assert_allclose(got2.flatten().numpy(), rep2, rtol=1e-12)
        np.testing.assert_allclose(readout.errors[0].numpy(), [err1, err2], rtol=1e-12)
        np.testing.assert_allclose(readout.logits.detach().flatten().numpy(), rep2, rtol=1e-12)


def test_lambda_of_the_top_pcoder_has_no_effect(mini):
    x = torch.randn(2, 3, 96, 96)
    without = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.7), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
    with_lambda = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.7), (0.05, 0.1, 0.1, 0.1, 0.3), (0.01,) * 5)
    a = run_all(PCDynamics(mini), x, 2, without)
    b = run_all(PCDynamics(mini), x, 2, with_lambda)
    torch.testing.assert_close(a[2].logits, b[2].logits, rtol=0, atol=0)


def test_batch_invariance(mini):
    x = torch.randn(5, 3, 96, 96)
    dynamics = PCDynamics(mini)
    together = run_all(dynamics, x, 3, STRONG)
    for i in range(5):
        alone = run_all(dynamics, x[i : i + 1], 3, STRONG)
        for a, b in zip(alone, together):
            torch.testing.assert_close(a.logits, b.logits[i : i + 1], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(a.errors, b.errors[i : i + 1], rtol=1e-5, atol=1e-6)


class PredifyReference:
    """Predify's own mechanics, written independently: forward hooks on the backbone modules that
    replace their outputs, and `mse_loss` averaged over the whole batch."""

    def __init__(self, net: PredictiveCodingNetwork, hps: HyperParameters) -> None:
        self.net, self.hps = net, hps
        self.rep = [None] * net.num_pcoders
        self.prd = [None] * net.num_pcoders
        self.grd = [None] * net.num_pcoders
        modules = dict(net.backbone.named_modules())
        for n, spec in enumerate(net.pcoders):
            modules[spec.module].register_forward_hook(self._hook(n))

    def _hook(self, n: int):
        def hook(module, inputs, ff):
            b, l, a = self.hps.beta[n], self.hps.lam[n], self.hps.alpha[n]
            if self.rep[n] is None:
                rep = ff
            elif self.net.pcoders[n].has_feedback:
                rep = b * ff + l * self.prd[n + 1] + (1 - b - l) * self.rep[n] - a * self.grd[n]
            else:
                rep = b * ff + (1 - b) * self.rep[n] - a * self.grd[n]
            target = self.input if n == 0 else self.rep[n - 1]
            with torch.enable_grad():
                rep = rep.detach().requires_grad_(True)
                prd = self.net.pmodules[n](rep)
                loss = nn.functional.mse_loss(prd, target)
                self.grd[n] = torch.autograd.grad(loss, rep)[0]
            self.rep[n], self.prd[n] = rep.detach(), prd.detach()
            return self.rep[n]

        return hook

    def run(self, x: torch.Tensor, timesteps: int) -> list[torch.Tensor]:
        self.input = x
        with torch.no_grad():
            return [self.net.backbone(x) for _ in range(timesteps + 1)]


def test_equals_predify_at_batch_size_one_and_not_beyond():
    net = random_mini(3, 5).double()
    x = torch.randn(3, 3, 96, 96, dtype=torch.float64)
    ours = run_all(PCDynamics(net), x[:1], 3, STRONG)
    reference = PredifyReference(copy.deepcopy(net), STRONG)
    logits = reference.run(x[:1], 3)
    for a, b in zip(ours, logits):
        torch.testing.assert_close(a.logits.detach(), b, rtol=1e-10, atol=1e-12)
    for a, b in zip(ours[-1].state.reps, reference.rep):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # In a batch of 3, Predify's batch-mean error shrinks each image's gradient 3-fold; ours does not.
    batched_reference = PredifyReference(copy.deepcopy(net), STRONG)
    batched_reference.run(x, 3)
    batched_ours = run_all(PCDynamics(net), x, 3, STRONG)
    gap = (batched_ours[3].state.reps[0][:1] - batched_reference.rep[0][:1]).abs().max()
    assert gap > 1e-8
    torch.testing.assert_close(batched_ours[3].state.reps[0][:1], ours[3].state.reps[0], rtol=1e-10, atol=1e-12)


def test_per_element_coefficients_match_separate_runs(mini):
    x = torch.randn(2, 3, 96, 96)
    dynamics = PCDynamics(mini)
    settings = [HPS_0, STRONG, HyperParameters.single_pcoder(5, 2, 0.3, 0.6, 0.2)]
    # Every configuration on every image, sharing one t = 0 state.
    initial = dynamics.initial_state(x)
    index = torch.arange(2).repeat(len(settings))
    shared_x = x.index_select(0, index)
    coefficients = Coefficients.stack([s for s in settings for _ in range(2)])
    shared = list(dynamics.run(shared_x, 3, coefficients, initial=initial.select(index)))
    for k, hps in enumerate(settings):
        separate = run_all(dynamics, x, 3, hps)
        for a, b in zip(separate, shared):
            torch.testing.assert_close(b.logits[2 * k : 2 * k + 2], a.logits, rtol=1e-5, atol=1e-5)


def test_frozen_prefix_reuse_is_exact(mini):
    x = torch.randn(2, 3, 96, 96)
    hps = HyperParameters.single_pcoder(5, 4, 0.3, 0.5, 0.2)
    fast = run_all(PCDynamics(mini, skip_unneeded_work=True), x, 3, hps)
    slow = run_all(PCDynamics(mini, skip_unneeded_work=False), x, 3, hps)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
        torch.testing.assert_close(a.errors, b.errors, rtol=0, atol=0)


def test_receptive_count_of_a_transposed_convolution():
    torch.manual_seed(0)
    pmodule = nn.ConvTranspose2d(8, 3, kernel_size=5, stride=1, padding=2)
    assert receptive_count(pmodule, (8, 16, 16), "cpu", torch.float32) == 5 * 5 * 3
    strided = nn.ConvTranspose2d(8, 4, kernel_size=6, stride=2, padding=2)
    assert receptive_count(strided, (8, 8, 8), "cpu", torch.float32) == 6 * 6 * 4


def test_gradient_scaling_multiplies_the_error_term(mini):
    mini = copy.deepcopy(mini).double()  # the scaled step is large: keep rounding out of the comparison
    x = torch.randn(1, 3, 96, 96, dtype=torch.float64)
    only_error = HyperParameters((1.0,) * 5, (0.0,) * 5, (0.0, 0.0, 0.0, 0.0, 0.3))
    plain = run_all(PCDynamics(mini), x, 1, only_error)
    scaled_dynamics = PCDynamics(mini, gradient_scaling=True)
    scaled = run_all(scaled_dynamics, x, 1, only_error)
    top = 4
    step_plain = plain[1].state.reps[top] - plain[0].state.reps[top]
    step_scaled = scaled[1].state.reps[top] - scaled[0].state.reps[top]
    factor = scaled_dynamics.error_scale(top, plain[0].state.reps[top])
    numel = mini.pmodules[top](plain[0].state.reps[top]).numel()
    count = receptive_count(mini.pmodules[top], plain[0].state.reps[top].shape[1:], "cpu", torch.float64)
    assert factor == pytest.approx(numel / count**0.5)
    torch.testing.assert_close(step_scaled, factor * step_plain, rtol=1e-9, atol=1e-12)
    assert step_plain.abs().max() > 0


def test_invalid_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="beta \\+ lambda"):
        HyperParameters((0.7,), (0.4,), (0.0,))
    with pytest.raises(ValueError, match="non-negative"):
        HyperParameters((0.5,), (-0.1,), (0.0,))
    with pytest.raises(ValueError, match="one value per PCoder"):
        HyperParameters((0.5, 0.5), (0.1,), (0.0,))


def test_alpha_without_gradient_is_an_error(mini):
    x = torch.randn(1, 3, 96, 96)
    dynamics = PCDynamics(mini)
    feedforward = Coefficients.broadcast(HyperParameters.uniform(5, 1.0, 0.0, 0.0), 1)
    state = dynamics.initial_state(x, dynamics.plan(feedforward, diagnostics=False))
    assert all(g is None for g in state.gradients) and all(p is None for p in state.predictions)
    with pytest.raises(ValueError, match="PCoder 1 has alpha > 0"):
        next(dynamics.trajectory(x, 1, Coefficients.broadcast(HPS_0, 1), state))
    no_alpha = HyperParameters((0.2,) * 5, (0.3,) * 5, (0.0,) * 5)
    with pytest.raises(ValueError, match="PCoder 1 has lambda > 0 but the prediction of PCoder 2"):
        next(dynamics.trajectory(x, 1, Coefficients.broadcast(no_alpha, 1), state))


WORK_CASES = {
    "single PCoder 3": HyperParameters.single_pcoder(5, 3, 0.3, 0.5, 0.2),
    "single PCoder 3, lambda = 0": HyperParameters.single_pcoder(5, 3, 0.3, 0.0, 0.2),
    "single PCoder 1, alpha = 0": HyperParameters.single_pcoder(5, 1, 0.4, 0.5, 0.0),
    "single top PCoder": HyperParameters.single_pcoder(5, 5, 0.4, 0.0, 0.1),
    "shared": HyperParameters.uniform(5, 0.4, 0.5, 0.01),
    "all frozen": HyperParameters.uniform(5, 1.0, 0.0, 0.0),
    "hps_1 (alpha = 0 at PCoder 2)": HyperParameters((0.19, 0.7, 0.34, 0.7, 0.7), (0.3, 0.3, 0.3, 0.0, 0.3), (0.01, 0.0, 0.01, 0.01, 0.01)),
}


@pytest.mark.slow
@pytest.mark.parametrize("diagnostics", [True, False])
@pytest.mark.parametrize("name", sorted(WORK_CASES))
def test_skipping_unneeded_work_changes_no_number(mini, name, diagnostics):
    x = torch.randn(3, 3, 96, 96)
    coefficients = Coefficients.broadcast(WORK_CASES[name], 3)
    fast = list(PCDynamics(mini).run(x, 3, coefficients, diagnostics=diagnostics))
    full = list(PCDynamics(mini, skip_unneeded_work=False).run(x, 3, coefficients))
    for a, b in zip(fast, full):
        torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
        for rep_a, rep_b in zip(a.state.reps, b.state.reps):
            torch.testing.assert_close(rep_a, rep_b, rtol=0, atol=0)
        known = ~torch.isnan(a.errors)
        torch.testing.assert_close(a.errors[known], b.errors[known], rtol=0, atol=0)
        if diagnostics:
            assert known.all()


class CallCounter:
    """Counts the calls of every stage, predictor and error gradient (the predictor's adjoint)."""

    def __init__(self, dynamics: PCDynamics) -> None:
        net = dynamics.net
        self.stages = [0] * net.num_pcoders
        self.predictors = [0] * net.num_pcoders
        self.gradients = [0] * net.num_pcoders
        for n, (stage, pmodule) in enumerate(zip(net.stages, net.pmodules)):
            stage.register_forward_hook(self._count(self.stages, n))
            pmodule.register_forward_hook(self._count(self.predictors, n))
            predictor = dynamics._predictors[n]
            predictor.adjoint = self._counted(predictor.adjoint, n)

    def _count(self, counts, n):
        def hook(module, inputs, output):
            counts[n] += 1

        return hook

    def _counted(self, adjoint, n):
        def counted(*args):
            self.gradients[n] += 1
            return adjoint(*args)

        return counted

    def take(self) -> tuple[list[int], list[int], list[int]]:
        counts = (self.stages[:], self.predictors[:], self.gradients[:])
        for counter in (self.stages, self.predictors, self.gradients):
            counter[:] = [0] * len(counter)
        return counts


def hps_active(hps: HyperParameters) -> list[int]:
    return [n for n in range(len(hps.beta)) if (hps.beta[n], hps.lam[n], hps.alpha[n]) != (1.0, 0.0, 0.0)]


@pytest.mark.parametrize(
    "hps, stages, predictors, gradients",
    [
        # PCoder 3 active: its drive is constant (its input is frozen), so only stages 4 and 5 run;
        # predictor 3 with its gradient, predictor 4 for the feedback into PCoder 3.
        (HyperParameters.single_pcoder(5, 3, 0.3, 0.5, 0.2), [0, 0, 0, 1, 1], [0, 0, 1, 1, 0], [0, 0, 1, 0, 0]),
        # lambda = 0: no feedback, so predictor 4 is not needed.
        (HyperParameters.single_pcoder(5, 3, 0.3, 0.0, 0.2), [0, 0, 0, 1, 1], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0]),
        # alpha = 0: predictor 1 only feeds nothing; predictor 2 feeds PCoder 1.
        (HyperParameters.single_pcoder(5, 1, 0.4, 0.5, 0.0), [0, 1, 1, 1, 1], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]),
        # Every PCoder active: only the first stage (the image never changes) is skipped.
        (HyperParameters.uniform(5, 0.4, 0.5, 0.01), [0, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]),
    ],
)
def test_a_step_does_only_the_work_its_coefficients_need(hps, stages, predictors, gradients):
    net = random_mini(4, 5)
    dynamics = PCDynamics(net)
    x = torch.randn(2, 3, 96, 96)
    coefficients = Coefficients.broadcast(hps, 2)
    initial = dynamics.initial_state(x, dynamics.plan(coefficients, diagnostics=False))
    counter = CallCounter(dynamics)
    steps = dynamics.trajectory(x, 2, coefficients, initial, diagnostics=False)
    next(steps)
    assert counter.take() == (stages, predictors, gradients)
    # The last step computes no error gradient and, recording no errors, no prediction: only a
    # next step would use them.
    (last,) = steps
    assert counter.take() == (stages, [0] * 5, [0] * 5)
    assert all(g is None for g in last.gradients) and torch.isnan(last.errors[:, hps_active(hps)]).all()


def test_a_shared_initial_state_covers_the_union_of_plans(mini):
    x = torch.randn(2, 3, 96, 96)
    dynamics = PCDynamics(mini)
    first = dynamics.plan(Coefficients.broadcast(HyperParameters.single_pcoder(5, 2, 0.3, 0.5, 0.0), 2), diagnostics=False)
    second = dynamics.plan(Coefficients.broadcast(HyperParameters.single_pcoder(5, 4, 0.3, 0.0, 0.2), 2), diagnostics=False)
    state = dynamics.initial_state(x, first.union(second))
    assert [p is not None for p in state.predictions] == [False, False, True, True, False]
    assert [g is not None for g in state.gradients] == [False, False, False, True, False]


def test_with_diagnostics_the_last_step_still_predicts_everything(mini):
    x = torch.randn(2, 3, 96, 96)
    dynamics = PCDynamics(mini)
    coefficients = Coefficients.broadcast(HyperParameters.single_pcoder(5, 3, 0.3, 0.5, 0.2), 2)
    initial = dynamics.initial_state(x, dynamics.plan(coefficients))
    counter = CallCounter(dynamics)
    *_, last = dynamics.trajectory(x, 2, coefficients, initial)
    counter.take()  # both steps
    assert not torch.isnan(last.errors).any() and all(g is None for g in last.gradients)
