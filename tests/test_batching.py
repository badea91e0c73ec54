"""`extraction.batch_size: auto`: the arithmetic, the refusal on the CPU, and (on CUDA) the real probe."""

from __future__ import annotations

import pytest
import torch

from pcgc.compute.batching import (
    AUTO,
    Footprint,
    engine_probe,
    fitting_batch_size,
    measure_footprint,
    resolve_batch_size,
)
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.networks import build_network
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import NETWORKS
from pcgc.stages.extract import extract
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
MIB = 2**20


def test_the_batch_is_the_largest_power_of_two_that_fits_in_the_headroom():
    footprint = Footprint(fixed_bytes=100 * MIB, row_bytes=10 * MIB)
    # 0.8 * 1000 MiB - 100 MiB leaves 700 MiB: 70 rows fit, 64 is the power of two below.
    assert fitting_batch_size(1000 * MIB, footprint) == 64
    assert fitting_batch_size(1000 * MIB, footprint, headroom=1.0) == 64  # 90 rows
    assert fitting_batch_size(2000 * MIB, footprint) == 128  # 150 rows
    # Free memory that moves within the power of two changes nothing.
    assert {fitting_batch_size(free * MIB, footprint) for free in range(925, 1725, 50)} == {64}


def test_more_rows_than_the_job_has_are_not_asked_for():
    footprint = Footprint(fixed_bytes=0, row_bytes=MIB)
    assert fitting_batch_size(10_000 * MIB, footprint, limit=40) == 32
    assert fitting_batch_size(10_000 * MIB, footprint, limit=1) == 1


def test_a_device_too_small_for_one_row_is_an_error_that_says_what_was_measured():
    with pytest.raises(MemoryError, match=r"extraction.batch_size: auto: not even one row fits: 0.49 GiB free"):
        fitting_batch_size(500 * MIB, Footprint(fixed_bytes=390 * MIB, row_bytes=20 * MIB))
    with pytest.raises(ValueError, match="a batch row must cost memory"):
        fitting_batch_size(500 * MIB, Footprint(fixed_bytes=0, row_bytes=0))


def test_a_number_is_taken_as_it_is_and_nothing_is_probed():
    def probe(rows):
        raise AssertionError("a fixed batch size must not run a probe")

    assert resolve_batch_size(24, torch.device("cpu"), probe) == 24
    for bad in (0, -3, 2.0, True, "big"):
        with pytest.raises(ValueError, match="extraction.batch_size: expected a positive integer or 'auto'"):
            resolve_batch_size(bad, torch.device("cpu"), probe)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_stage_inputs(tmp_path_factory.mktemp("batching"), random_mini(5, 4), count=4)


def test_auto_on_the_cpu_stops_the_job_naming_the_key_and_writes_nothing(files, tmp_path):
    network = stage_network(files)
    out = tmp_path / "extract.h5"
    with pytest.raises(ValueError, match=r"extraction.batch_size: 'auto' sizes batches from free GPU memory, but the device is cpu"):
        extract(network, hps_name="hps_0", hps=HPS, timesteps=2, batch_size=AUTO, out_h5=out)
    assert list(tmp_path.iterdir()) == []


def test_the_probe_runs_the_engine_on_as_many_rows_as_asked(monkeypatch):
    dynamics = PCDynamics(random_mini(5, 4))
    seen = []
    original = dynamics.trajectory

    def counting(x, *args, **kwargs):
        seen.append(x.shape[0])
        return original(x, *args, **kwargs)

    monkeypatch.setattr(dynamics, "trajectory", counting)
    x = torch.randn(1, 3, 96, 96)
    probe = engine_probe(dynamics, x, torch.tensor([1]), HPS, timesteps=5, diagnostics=True, precision="fp32")
    for rows in (2, 6):
        probe(rows)
    assert seen == [2, 6]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("network", ["mini", "pefficientnet_b0"])
def test_on_cuda_the_chosen_batch_fits_and_the_footprint_is_affine_in_rows(network):
    device = torch.device("cuda")
    if network == "mini":
        net, hps = random_mini(5, 4), HPS
    else:  # eight PCoders, predictors without a written-out adjoint (autograd's vjp)
        torch.manual_seed(5)
        net, hps = build_network(network, 1000), NETWORKS[network].hyperparameters["predify"]
    dynamics = PCDynamics(net.to(device))
    size = net.input_size
    x, target = torch.randn(1, 3, size, size, device=device), torch.tensor([1], device=device)
    probe = engine_probe(dynamics, x, target, hps, timesteps=3, diagnostics=True, precision="fp32")
    footprint = measure_footprint(probe, device)
    assert footprint.row_bytes > 0
    rows = resolve_batch_size(AUTO, device, probe, limit=512)
    assert rows & (rows - 1) == 0 and 1 <= rows <= 512
    # The affine model predicts a larger batch's peak within 10 % (allocator rounding).
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    probe(rows)
    peak = torch.cuda.max_memory_allocated(device) - baseline
    predicted = footprint.fixed_bytes + rows * footprint.row_bytes
    assert abs(peak - predicted) <= 0.1 * predicted
