"""The cost model against PVGG16's known sizes, and its work plans."""

from __future__ import annotations

import pytest
import torch

from benchmarks.costmodel import CostModel
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.networks import build_network
from pcgc.spec.hyperparameters import HyperParameters

pytestmark = pytest.mark.slow  # every test uses PVGG16 at full size


@pytest.fixture(scope="module")
def pvgg16():
    torch.manual_seed(0)
    net = build_network("pvgg16", 1000)
    return net, CostModel.of(net)


def test_pvgg16_pieces_in_gmacs(pvgg16):
    _, model = pvgg16
    # Counted by hand from the layers: output cells x (input channels x kernel) for a convolution,
    # input cells x (output channels x kernel) for a transposed one.
    assert model.stages[0] * 1e9 == 224**2 * 64 * 3 * 9 + 224**2 * 64 * 64 * 9
    assert model.stages[4] * 1e9 == 3 * 14**2 * 512 * 512 * 9
    assert model.predictors[0] * 1e9 == 224**2 * 64 * 3 * 5**2
    assert model.predictors[2] * 1e9 == 56**2 * 256 * 128 * 14**2
    # The table of the cost model (docs/experiments.md, "The cost model"), rounded
    assert model.stages == pytest.approx((1.94, 2.77, 4.62, 4.62, 1.39), abs=0.01)
    assert model.predictors == pytest.approx((0.24, 10.3, 20.1, 20.1, 10.1), abs=0.05)
    assert model.head == pytest.approx((25088 * 4096 + 4096 * 4096 + 4096 * 1000) / 1e9)
    assert model.everything() == pytest.approx(137.4, abs=0.1)


@pytest.mark.parametrize("k, gmacs, last", [(1, 24.5, 13.8), (2, 51.7, 11.0), (3, 66.8, 6.4), (4, 52.1, 1.8), (5, 20.5, 0.4)])
def test_a_single_active_pcoder_costs_only_what_it_needs(pvgg16, k, gmacs, last):
    net, model = pvgg16
    plan = PCDynamics(net).plan(Coefficients.broadcast(HyperParameters.single_pcoder(5, k, 0.4, 0.5, 0.01), 1), diagnostics=False)
    # stages above k, predictor k and its gradient, predictor k + 1 (lambda > 0), the readout
    assert model.step(plan) == pytest.approx(gmacs, abs=0.05)
    # The last step needs no prediction (no errors are recorded) and no gradient.
    assert model.step(plan, last=True) == pytest.approx(last, abs=0.05)


def test_sharing_t0_and_skipping_work_against_computing_everything(pvgg16):
    net, model = pvgg16
    cells = [HyperParameters.single_pcoder(5, k, 0.4, 0.5, 0.01) for k in range(1, 6)]
    plans = [PCDynamics(net).plan(Coefficients.broadcast(c, 1), diagnostics=False) for c in cells]
    everything = [PCDynamics(net, skip_unneeded_work=False).plan(Coefficients.broadcast(c, 1)) for c in cells]
    per_step = sum(model.step(p) for p in everything) / sum(model.step(p) for p in plans)
    assert per_step == pytest.approx(3.19, abs=0.01)
    # A Figure 3 grid has 66 cells per PCoder: t = 0, computed once for all, costs next to nothing,
    # and the last of 10 steps is cheap (above).
    last_step = sum(model.step(p, last=True) for p in plans) / sum(model.step(p) for p in plans)
    assert last_step == pytest.approx(33.4 / 215.6, abs=0.001)
    shared = model.sweep(everything * 66, 10, shared_t0=False) / model.sweep(plans * 66, 10, shared_t0=True)
    assert shared == pytest.approx(11 / (9 + last_step) * per_step, rel=0.01)
