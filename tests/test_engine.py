"""The engine shared by `extract` and the sweeps: many configurations over one batch of images."""

from __future__ import annotations

import pytest
import torch

from benchmarks.reference_cam import grad_cam
from pcgc.compute.cam import CamRequest
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.spec.hyperparameters import HyperParameters
from tests.conftest import random_mini

CONFIGURATIONS = [
    HyperParameters.single_pcoder(5, 1, 0.4, 0.5, 0.01),
    HyperParameters.single_pcoder(5, 3, 0.2, 0.0, 0.01),
    HyperParameters.single_pcoder(5, 3, 0.6, 0.3, 0.01),
    HyperParameters.single_pcoder(5, 5, 0.3, 0.0, 0.01),
    HyperParameters.uniform(5, 0.4, 0.5, 0.01),
    HyperParameters.uniform(5, 1.0, 0.0, 0.0),
    HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5),
]


@pytest.fixture(scope="module")
def setting():
    net = random_mini(11, 6)
    torch.manual_seed(5)
    x = torch.randn(3, 3, 96, 96)
    targets = torch.tensor([0, 4, 2])
    return PCDynamics(net), x, targets


def collect(engine: Engine, x, targets, configurations, timesteps=3) -> dict[tuple[int, int], dict]:
    """(configuration, image) -> that row's trajectories."""
    rows = {}
    for block in engine.run(x, targets, configurations, timesteps):
        for r in range(block.configuration.shape[0]):
            key = (int(block.configuration[r]), int(block.image[r]))
            assert key not in rows, f"row {key} produced twice"
            rows[key] = {name: getattr(block, name)[r] for name in ("cam_raw", "target_logit", "top1", "prediction_error")}
    return rows


@pytest.mark.slow
def test_every_configuration_on_every_image_equals_its_own_run(setting):
    dynamics, x, targets = setting
    rows = collect(Engine(dynamics, batch_size=6, diagnostics=True), x, targets, CONFIGURATIONS)
    assert sorted(rows) == [(c, i) for c in range(len(CONFIGURATIONS)) for i in range(3)]
    for c, hps in enumerate(CONFIGURATIONS):
        alone = PCDynamics(dynamics.net, skip_unneeded_work=False).run(x, 3, Coefficients.broadcast(hps, 3))
        for t, readout in enumerate(alone):
            cam = grad_cam(readout, targets)
            for i in range(3):
                row = rows[(c, i)]
                torch.testing.assert_close(row["cam_raw"][t], cam.raw[i], rtol=1e-5, atol=1e-6)
                torch.testing.assert_close(row["target_logit"][t], cam.score[i], rtol=1e-5, atol=1e-6)
                assert int(row["top1"][t]) == int(readout.logits[i].argmax())
                torch.testing.assert_close(row["prediction_error"][t], readout.errors[i], rtol=1e-5, atol=1e-7)


def test_t0_is_computed_once_and_identical_for_every_configuration(setting):
    dynamics, x, targets = setting
    calls = []
    handle = dynamics.net.stages[0].register_forward_hook(lambda *args: calls.append(1))
    try:
        rows = collect(Engine(dynamics, batch_size=3, diagnostics=False), x, targets, CONFIGURATIONS)
    finally:
        handle.remove()
    assert len(calls) == 1, "stage 1 runs at t = 0 only: the image never changes"
    for i in range(3):
        first = rows[(0, i)]["cam_raw"][0]
        for c in range(len(CONFIGURATIONS)):
            assert torch.equal(rows[(c, i)]["cam_raw"][0], first)


@pytest.mark.slow
def test_how_configurations_are_split_into_runs_changes_no_number(setting):
    dynamics, x, targets = setting
    engine = Engine(dynamics, batch_size=9, diagnostics=False)  # three configurations per device batch
    together = collect(engine, x, targets, CONFIGURATIONS)
    for split in ([0, 3, 5], [1], [2, 4, 6], [6, 5, 4, 3, 2, 1, 0]):
        part = collect(engine, x, targets, [CONFIGURATIONS[k] for k in split])
        for position, k in enumerate(split):
            for i in range(3):
                for name, value in part[(position, i)].items():
                    expected = together[(k, i)][name]
                    torch.testing.assert_close(value, expected, rtol=0, atol=0, equal_nan=True, msg=f"{split} {k} {i} {name}")


def test_without_diagnostics_only_the_needed_prediction_errors_are_known(setting):
    dynamics, x, targets = setting
    rows = collect(Engine(dynamics, batch_size=3, diagnostics=False), x, targets, CONFIGURATIONS[1:2])
    errors = rows[(0, 0)]["prediction_error"]  # PCoder 3 alone, lambda = 0: only predictor 3 runs
    assert torch.isnan(errors[:, [0, 1, 3, 4]]).all() and not torch.isnan(errors[:-1, 2]).any()
    # ... except at the last step, which no next step needs a prediction for.
    assert torch.isnan(errors[-1]).all()


def test_bad_arguments_are_refused(setting):
    dynamics, x, targets = setting
    with pytest.raises(ValueError, match="batch_size"):
        Engine(dynamics, batch_size=0, diagnostics=False)
    with pytest.raises(ValueError, match="no configurations"):
        next(Engine(dynamics, batch_size=3, diagnostics=False).run(x, targets, [], 2))
    with pytest.raises(ValueError, match="one Grad-CAM target per image"):
        next(Engine(dynamics, batch_size=3, diagnostics=False).run(x, targets[:2], CONFIGURATIONS, 2))


def test_a_start_is_shared_by_runs_of_engines_with_the_same_backbone(setting):
    from pcgc.compute.controls import randomized_predictors

    dynamics, x, targets = setting
    random = PCDynamics(randomized_predictors(dynamics.net, seed=1))
    engines = [Engine(d, batch_size=3, diagnostics=True) for d in (dynamics, random)]
    start = engines[0].start(x, targets)
    for engine in engines:
        for configurations in (CONFIGURATIONS[:1], CONFIGURATIONS[4:]):
            shared = list(engine.run(x, targets, configurations, 2, start=start))
            alone = list(engine.run(x, targets, configurations, 2))
            for a, b in zip(shared, alone):
                for name in ("cam_raw", "target_logit", "top1", "prediction_error", "representation_change"):
                    assert torch.equal(getattr(a, name).nan_to_num(7), getattr(b, name).nan_to_num(7)), name
    # The trained and the random predictors' t = 0 errors differ: they are each run's own.
    trained, randomised = (next(e.run(x, targets, CONFIGURATIONS[:1], 1, start=start)) for e in engines)
    assert not torch.equal(trained.prediction_error[:, 0], randomised.prediction_error[:, 0])
    assert torch.equal(trained.cam_raw[:, 0], randomised.cam_raw[:, 0])


def test_a_start_of_other_inputs_or_another_backbone_is_refused(setting):
    dynamics, x, targets = setting
    engine = Engine(dynamics, batch_size=3, diagnostics=True)
    start = engine.start(x, targets)
    with pytest.raises(ValueError, match="very inputs"):
        next(engine.run(x.clone(), targets, CONFIGURATIONS[:1], 1, start=start))
    other = PCDynamics(random_mini(12, 6))  # another backbone
    with pytest.raises(ValueError, match="same backbone"):
        next(Engine(other, batch_size=3, diagnostics=True).run(x, targets, CONFIGURATIONS[:1], 1, start=start))
    with pytest.raises(ValueError, match="same backbone"):  # other maps
        cams = CamRequest.from_config({"methods": ["gradcam"], "layers": ["pcoder2"]}, 5)
        next(Engine(dynamics, batch_size=3, diagnostics=True, cams=cams).run(x, targets, CONFIGURATIONS[:1], 1, start=start))
