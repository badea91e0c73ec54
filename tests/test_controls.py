"""The feedback controls (pcgc.spec.controls, pcgc.compute.controls): each one changes what it
says and nothing else, and runs through the one engine."""

from __future__ import annotations

import pytest
import torch

from pcgc.compute.controls import condition, randomized_predictors
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.spec.controls import CONTROLS, TRAINED, batch_bounds, feedback_groups, feedback_partners, no_feedback
from pcgc.spec.hyperparameters import HyperParameters
from tests.conftest import random_mini

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.3, 0.1, 0.2, 0.1, 0.0), (0.05, 0.01, 0.02, 0.01, 0.01))
TIMESTEPS = 3


@pytest.fixture(scope="module")
def setting():
    net = random_mini(4, 6)
    torch.manual_seed(2)
    return PCDynamics(net), torch.randn(4, 3, 96, 96), torch.tensor([0, 3, 1, 5])


def engine_rows(engine: Engine, *args, **kwargs) -> dict[tuple[int, int], dict]:
    out = {}
    for block in engine.run(*args, **kwargs):
        for r in range(block.configuration.shape[0]):
            out[(int(block.configuration[r]), int(block.image[r]))] = {
                "cam": block.cam_raw[r], "logit": block.target_logit[r], "errors": block.prediction_error[r],
            }
    return out


# -- no feedback ----------------------------------------------------------------------------------


def test_no_feedback_is_the_same_beta_with_lambda_and_alpha_zero():
    control = no_feedback(HPS)
    assert control == HyperParameters(HPS.beta, (0.0,) * 5, (0.0,) * 5)
    assert CONTROLS["no_feedback"].coefficients(HPS) == control


def test_the_no_feedback_control_equals_the_dynamics_with_lambda_and_alpha_zero(setting):
    dynamics, x, targets = setting
    run = condition("no_feedback", dynamics, HPS, seed=0)
    assert run.dynamics is dynamics and not run.shuffled_feedback
    got = engine_rows(Engine(run.dynamics, batch_size=4, diagnostics=True), x, targets, [run.hyperparameters], TIMESTEPS)
    memory_only = HyperParameters(HPS.beta, (0.0,) * 5, (0.0,) * 5)
    readouts = list(PCDynamics(dynamics.net, skip_unneeded_work=False).run(x, TIMESTEPS, Coefficients.broadcast(memory_only, 4)))
    # And by hand: memory only, rep_n(t) = beta_n ff_n(t) + (1 - beta_n) rep_n(t-1).
    with torch.no_grad():
        reps = list(readouts[0].state.reps)
        for t in range(1, TIMESTEPS + 1):
            below = x
            for n, stage in enumerate(dynamics.net.stages):
                reps[n] = HPS.beta[n] * stage(below) + (1 - HPS.beta[n]) * reps[n]
                below = reps[n]
            for n in range(5):
                # float32 sums in another order: a few ulps per step
                torch.testing.assert_close(readouts[t].state.reps[n], reps[n], rtol=1e-4, atol=1e-5)
    for t, readout in enumerate(readouts):
        logits = readout.logits.detach()
        for i in range(4):
            torch.testing.assert_close(got[(0, i)]["logit"][t], logits[i, targets[i]], rtol=1e-5, atol=1e-6)
    # Without feedback and error correction the trained run's maps would be these; they are not.
    trained = engine_rows(Engine(dynamics, batch_size=4, diagnostics=True), x, targets, [HPS], TIMESTEPS)
    assert not torch.allclose(trained[(0, 0)]["cam"][-1], got[(0, 0)]["cam"][-1])


# -- random feedback ------------------------------------------------------------------------------


def test_random_feedback_changes_the_predictors_and_nothing_else_deterministically(setting):
    dynamics, _, _ = setting
    net = dynamics.net
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first, again, other = (randomized_predictors(net, seed) for seed in (7, 7, 8))
    assert {k: v for k, v in net.state_dict().items()}.keys() == before.keys()
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), f"the trained network's {k} changed"
    state, state_again, state_other = first.state_dict(), again.state_dict(), other.state_dict()
    assert state.keys() == before.keys()
    predictor_keys = [k for k in before if k.startswith("pmodules.")]
    assert len(predictor_keys) == 10  # weight and bias of 5 predictors
    for key, value in before.items():
        if key in predictor_keys:
            assert not torch.equal(state[key], value), f"{key} was not randomised"
            assert torch.equal(state[key], state_again[key]), f"{key}: the same seed gave another draw"
            assert not torch.equal(state[key], state_other[key]), f"{key}: another seed gave the same draw"
            assert state[key].shape == value.shape and state[key].dtype == value.dtype
            torch.testing.assert_close(state[key].mean(), value.mean(), rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(state[key].std(correction=0), value.std(correction=0), rtol=1e-5, atol=1e-7)
            # a fresh draw, not a permutation of the trained values
            assert not torch.equal(state[key].flatten().sort().values, value.flatten().sort().values)
        else:
            assert torch.equal(state[key], value), f"{key} is not a predictor's and changed"
    # The backbone is shared, not copied.
    assert all(a is b for a, b in zip(first.backbone.parameters(), net.backbone.parameters()))


def test_the_random_feedback_condition_runs_the_randomised_network(setting):
    dynamics, x, targets = setting
    run = condition("random_feedback", dynamics, HPS, seed=3)
    assert run.hyperparameters == HPS and run.dynamics is not dynamics
    got = engine_rows(Engine(run.dynamics, batch_size=4, diagnostics=True), x, targets, [HPS], TIMESTEPS)
    trained = engine_rows(Engine(dynamics, batch_size=4, diagnostics=True), x, targets, [HPS], TIMESTEPS)
    # t = 0 is the backbone's alone: the same; later timesteps follow other predictions.
    assert torch.equal(got[(0, 1)]["cam"][0], trained[(0, 1)]["cam"][0])
    assert not torch.allclose(got[(0, 1)]["cam"][-1], trained[(0, 1)]["cam"][-1])


# -- shuffled feedback ----------------------------------------------------------------------------


def test_shuffled_feedback_takes_the_partners_prediction(setting):
    dynamics, x, _ = setting
    partner = torch.tensor([2, 3, 1, 0])
    coefficients = Coefficients.broadcast(HPS, 4)
    initial = dynamics.initial_state(x)
    (state,) = dynamics.trajectory(x, 1, coefficients, initial, feedback_source=partner)
    # PCoder 1 at t = 1, by hand: its feedback is the partner's prd_2(0); the rest is its own.
    with torch.no_grad():
        expected = (
            HPS.beta[0] * dynamics.net.stages[0](x)
            + (1 - HPS.beta[0] - HPS.lam[0]) * initial.reps[0]
            + HPS.lam[0] * initial.predictions[1][partner]
            - HPS.alpha[0] * initial.gradients[0]
        )
    torch.testing.assert_close(state.reps[0], expected, rtol=1e-5, atol=1e-6)
    (own,) = dynamics.trajectory(x, 1, coefficients, initial)
    assert not torch.allclose(own.reps[0], state.reps[0])


def test_shuffled_feedback_keeps_the_engines_batching_invariance(setting):
    dynamics, x, targets = setting
    partner = torch.tensor(feedback_partners(4, 4, seed=0))
    configurations = [HPS, HyperParameters.uniform(5, 0.4, 0.5, 0.01), HyperParameters.uniform(5, 0.3, 0.3, 0.0)]
    together = engine_rows(Engine(dynamics, batch_size=8, diagnostics=True), x, targets, configurations, TIMESTEPS, feedback_partner=partner)
    for c, hps in enumerate(configurations):
        alone = engine_rows(Engine(dynamics, batch_size=8, diagnostics=True), x, targets, [hps], TIMESTEPS, feedback_partner=partner)
        for i in range(4):
            for name in ("cam", "logit", "errors"):
                torch.testing.assert_close(together[(c, i)][name], alone[(0, i)][name], rtol=0, atol=0, equal_nan=True)
    # With lambda = 0 nothing is fed back, so shuffling changes nothing.
    plain = HyperParameters(HPS.beta, (0.0,) * 5, HPS.alpha)
    shuffled = engine_rows(Engine(dynamics, batch_size=4, diagnostics=True), x, targets, [plain], TIMESTEPS, feedback_partner=partner)
    own = engine_rows(Engine(dynamics, batch_size=4, diagnostics=True), x, targets, [plain], TIMESTEPS)
    assert all(torch.equal(shuffled[k]["cam"], own[k]["cam"]) for k in own)


def test_shuffled_feedback_refuses_what_it_cannot_do(setting):
    dynamics, x, targets = setting
    engine = Engine(dynamics, batch_size=4, diagnostics=True)
    with pytest.raises(ValueError, match="at least 2 images"):
        next(engine.run(x[:1], targets[:1], [HPS], 1, feedback_partner=torch.tensor([0])))
    with pytest.raises(ValueError, match="its own feedback"):
        next(engine.run(x, targets, [HPS], 1, feedback_partner=torch.tensor([1, 0, 2, 3])))
    with pytest.raises(ValueError, match="permutation"):
        next(engine.run(x, targets, [HPS], 1, feedback_partner=torch.tensor([1, 0, 0, 2])))
    with pytest.raises(ValueError, match="at least 2 images"):
        feedback_groups(1, 8)
    with pytest.raises(ValueError, match="group must be >= 2"):
        feedback_groups(10, 1)


def test_partners_are_a_seeded_derangement_within_groups_that_batches_never_split():
    for count, group in [(2, 2), (9, 4), (10, 4), (33, 8), (300, 8)]:
        groups = feedback_groups(count, group)
        assert groups[0][0] == 0 and groups[-1][1] == count
        assert all(a[1] == b[0] for a, b in zip(groups, groups[1:]))
        assert all(stop - start >= 2 for start, stop in groups)
        partners = feedback_partners(count, group, seed=1)
        assert sorted(partners) == list(range(count))
        assert all(p != i for i, p in enumerate(partners))
        for start, stop in groups:
            assert all(start <= partners[i] < stop for i in range(start, stop))
        assert partners == feedback_partners(count, group, seed=1)
        for batch_size in (1, 5, 8, 32):
            batches = batch_bounds(count, batch_size, group)
            starts = {start for start, _ in groups} | {count}
            assert all(start in starts and stop in starts for start, stop in batches)
            assert batches[0][0] == 0 and batches[-1][1] == count
    assert feedback_partners(300, 8, seed=1) != feedback_partners(300, 8, seed=2)
    assert feedback_groups(9, 4) == [(0, 4), (4, 9)]  # a last image alone joins the group before
    assert batch_bounds(10, 4, None) == [(0, 4), (4, 8), (8, 10)]


def test_every_control_is_one_registry_entry():
    assert TRAINED not in CONTROLS
    assert set(CONTROLS) == {"no_feedback", "random_feedback", "shuffled_feedback"}
    assert all(c.question for c in CONTROLS.values())
