"""Representation recovery (pcgc.compute.recovery) as the engine computes it, against a direct
computation from stored representations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.recovery import correlation_distance, distances
from pcgc.spec.hyperparameters import HyperParameters
from tests.conftest import random_mini

CONFIGURATIONS = [
    HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5),
    HyperParameters.uniform(5, 0.4, 0.5, 0.05),
    HyperParameters.single_pcoder(5, 3, 0.3, 0.5, 0.01),
]
TIMESTEPS = 3


@pytest.fixture(scope="module")
def setting():
    net = random_mini(3, 6)
    torch.manual_seed(7)
    clean = torch.randn(3, 3, 96, 96)
    noisy = clean + 0.8 * torch.randn(3, 3, 96, 96)
    return PCDynamics(net), noisy, clean, torch.tensor([1, 0, 5])


def stored_reps(dynamics: PCDynamics, x: torch.Tensor, hps: HyperParameters) -> list[list[np.ndarray]]:
    """[t][n] -> the representations [B, C*H*W] of a separate run, kept (what the engine avoids)."""
    readouts = dynamics.run(x, TIMESTEPS, Coefficients.broadcast(hps, x.shape[0]))
    return [[rep.detach().flatten(1).double().numpy() for rep in r.state.reps] for r in readouts]


def direct(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([1 - np.corrcoef(a[i], b[i])[0, 1] for i in range(a.shape[0])])


def rows_of(engine: Engine, *args, **kwargs) -> dict[tuple[int, int], dict]:
    out = {}
    for block in engine.run(*args, **kwargs):
        for r in range(block.configuration.shape[0]):
            out[(int(block.configuration[r]), int(block.image[r]))] = {
                "cam": block.cam_raw[r], "logit": block.target_logit[r], "errors": block.prediction_error[r],
                "change": block.representation_change[r], **{k: v[r] for k, v in block.recovery.items()},
            }
    return out


def test_recovery_equals_one_minus_corrcoef_of_stored_representations(setting):
    dynamics, noisy, clean, targets = setting
    # batch_size 6 over 3 images: 2 configurations per device batch, the last one padded.
    engine = Engine(dynamics, batch_size=6, diagnostics=True, recovery=("same_t", "clean_t0"))
    rows = rows_of(engine, noisy, targets, CONFIGURATIONS, TIMESTEPS, clean=clean)
    assert sorted(rows) == [(c, i) for c in range(3) for i in range(3)]
    moved = 0.0
    for c, hps in enumerate(CONFIGURATIONS):
        perturbed, reference = stored_reps(dynamics, noisy, hps), stored_reps(dynamics, clean, hps)
        for t in range(TIMESTEPS + 1):
            for n in range(5):
                same_t = direct(perturbed[t][n], reference[t][n])
                to_t0 = direct(perturbed[t][n], reference[0][n])
                for i in range(3):
                    got = rows[(c, i)]
                    # float32 trajectories from batches of another shape: d agrees to ~1e-6.
                    np.testing.assert_allclose(float(got["same_t"][t, n]), same_t[i], rtol=1e-4, atol=2e-6)
                    np.testing.assert_allclose(float(got["clean_t0"][t, n]), to_t0[i], rtol=1e-4, atol=2e-6)
                    moved = max(moved, abs(same_t[i] - direct(perturbed[0][n], reference[0][n])[i]))
    # The test means something: the noise is visible and the distance moves over time.
    assert float(rows[(0, 0)]["same_t"][0, 0]) > 0.05
    assert moved > 1e-3


def test_recovery_leaves_the_perturbed_rows_as_they_are(setting):
    """On this CPU the stacked [perturbed | clean] batches change no bit of the perturbed rows'
    results; t = 0 is bit-identical by construction (its own pass) on any device."""
    dynamics, noisy, clean, targets = setting
    for batch_size in (3, 6):
        off = rows_of(Engine(dynamics, batch_size=batch_size, diagnostics=True), noisy, targets, CONFIGURATIONS, TIMESTEPS)
        on = rows_of(
            Engine(dynamics, batch_size=batch_size, diagnostics=True, recovery=("same_t",)),
            noisy, targets, CONFIGURATIONS, TIMESTEPS, clean=clean,
        )
        for key in off:
            for name in ("cam", "logit", "errors", "change"):
                torch.testing.assert_close(on[key][name], off[key][name], rtol=0, atol=0, equal_nan=True)


def test_a_clean_input_reuses_its_own_trajectory(setting):
    dynamics, _, clean, targets = setting
    engine = Engine(dynamics, batch_size=3, diagnostics=True, recovery=("same_t", "clean_t0"))
    rows = rows_of(engine, clean, targets, CONFIGURATIONS[:1], TIMESTEPS, clean=clean.clone())
    reps = stored_reps(dynamics, clean, CONFIGURATIONS[0])
    for i in range(3):
        assert torch.equal(rows[(0, i)]["same_t"], torch.zeros(TIMESTEPS + 1, 5))
        for t in range(TIMESTEPS + 1):
            for n in range(5):
                np.testing.assert_allclose(float(rows[(0, i)]["clean_t0"][t, n]), direct(reps[t][n], reps[0][n])[i], atol=2e-6)


def test_correlation_distance_by_hand():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 4.0, 6.0, 8.0], [1.0, 2.0, 3.0, 4.0]])
    d = correlation_distance(a, b)
    assert d.dtype == torch.float64
    assert float(d[0]) == pytest.approx(0.0, abs=1e-15)  # an increasing affine map: r = 1
    assert torch.isnan(d[1])  # a constant representation: r undefined
    assert float(correlation_distance(a[:1], -b[:1])[0]) == pytest.approx(2.0)


def test_bad_recovery_requests_are_refused(setting):
    dynamics, noisy, clean, targets = setting
    with pytest.raises(ValueError, match="recovery"):
        Engine(dynamics, batch_size=3, diagnostics=True, recovery=("same_time",))
    with pytest.raises(ValueError, match="clean inputs are needed"):
        next(Engine(dynamics, batch_size=3, diagnostics=True, recovery=("same_t",)).run(noisy, targets, CONFIGURATIONS, 1))
    with pytest.raises(ValueError, match="clean inputs are needed"):
        next(Engine(dynamics, batch_size=3, diagnostics=True).run(noisy, targets, CONFIGURATIONS, 1, clean=clean))
    with pytest.raises(ValueError, match="shape"):
        next(Engine(dynamics, batch_size=3, diagnostics=True, recovery=("same_t",)).run(noisy, targets, CONFIGURATIONS, 1, clean=clean[:2]))


def test_the_fast_form_is_the_float64_reference_within_1e_6():
    torch.manual_seed(0)
    clean = torch.relu(torch.randn(6, 16, 24, 24)) + 3.0  # an offset: centring must be exact enough
    noisy = clean + 0.05 * torch.randn(6, 16, 24, 24)
    far = torch.relu(torch.randn(6, 16, 24, 24))
    got = distances([noisy, noisy], {"near": [clean, clean], "far": [far, far]})
    for name, reference in (("near", clean), ("far", far)):
        expected = correlation_distance(noisy, reference)
        assert got[name].shape == (6, 2)
        torch.testing.assert_close(got[name][:, 0].double(), expected, rtol=0, atol=1e-6)
    assert float(got["near"].max()) < 0.01 < float(got["far"].min())
