"""The CUDA path equals the CPU path within the tolerance of its precision (skipped without a GPU;
`benchmarks/gpu_check.sh` runs these on a GPU machine)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.predictors import Predictor
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages.extract import extract
from pcgc.storage.overlap import HostCopy
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CONFIGURATIONS = [
    HyperParameters.single_pcoder(5, 3, 0.6, 0.3, 0.01),
    HyperParameters.uniform(5, 0.4, 0.5, 0.01),
    HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5),
]
FIELDS = ("cam_raw", "target_logit", "prediction_error")
# Largest deviation from the CPU's fp32, relative to the largest magnitude of each field: fp32 on
# CUDA differs only by summation order; tf32 keeps 10 mantissa bits, bf16 7.
TOLERANCE = {"fp32": 1e-4, "tf32": 2e-2, "bf16": 1.5e-1}


def run(
    device: str, precision: str, compile_mode: str = "eager", configurations=CONFIGURATIONS, memory_format=torch.contiguous_format
) -> dict[str, torch.Tensor]:
    net = random_mini(11, 6).to(device, memory_format=memory_format)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(4, 3, 96, 96, generator=generator).to(device)
    targets = torch.tensor([0, 4, 2, 1], device=device)
    engine = Engine(PCDynamics(net, compile_mode=compile_mode), batch_size=8, diagnostics=True, precision=precision)
    blocks = list(engine.run(x, targets, configurations, 3))
    return {name: torch.cat([getattr(b, name) for b in blocks]).cpu() for name in FIELDS + ("top1",)}


@pytest.fixture(scope="module")
def on_cpu():
    return run("cpu", "fp32")


@pytest.mark.parametrize("precision", sorted(TOLERANCE))
def test_the_engine_on_cuda_equals_the_cpu_within_its_precision(on_cpu, precision):
    on_gpu = run("cuda", precision)
    for name in FIELDS:
        assert on_gpu[name].dtype == torch.float32
        scale = on_cpu[name].nan_to_num().abs().max()
        deviation = (on_gpu[name] - on_cpu[name]).nan_to_num().abs().max() / scale
        assert deviation <= TOLERANCE[precision], f"{name} in {precision}: {deviation:.2e}"
        assert torch.equal(on_gpu[name].isnan(), on_cpu[name].isnan())
    if precision == "fp32":
        assert torch.equal(on_gpu["top1"], on_cpu["top1"])


def test_the_written_out_adjoint_equals_autograd_on_cuda():
    torch.manual_seed(0)
    # float64: cuDNN's kernels, without TF32 in the way of the comparison.
    pmodule = torch.nn.Sequential(torch.nn.ConvTranspose2d(8, 4, 10, stride=2, padding=4), torch.nn.ReLU()).cuda().double()
    rep = torch.randn(3, 8, 12, 12, device="cuda", dtype=torch.float64)
    target = torch.randn_like(pmodule(rep))
    _, error, gradient = Predictor(pmodule)(rep, target, with_gradient=True)
    leaf = rep.clone().requires_grad_(True)
    reference = (pmodule(leaf) - target).pow(2).flatten(1).mean(1)
    (expected,) = torch.autograd.grad(reference.sum(), leaf)
    torch.testing.assert_close(error, reference.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(gradient, expected, rtol=1e-10, atol=1e-14)


def test_a_host_copy_of_cuda_tensors_is_pinned_and_exact():
    tensors = {"maps": torch.randn(8, 11, 14, 14, device="cuda"), "top1": torch.randint(0, 1000, (8, 11), device="cuda")}
    copy = HostCopy(tensors)
    assert all(host.is_pinned() for host in copy._host.values())
    arrays = copy.arrays()
    for name, tensor in tensors.items():
        np.testing.assert_array_equal(arrays[name], tensor.cpu().numpy())


def test_overlapped_extraction_on_cuda_writes_the_plain_paths_file(tmp_path):
    files = write_stage_inputs(tmp_path / "inputs", random_mini(5, 4), count=7)
    network = stage_network(files, device="cuda")
    out = {overlap: tmp_path / f"overlap_{overlap}.h5" for overlap in (False, True)}
    for overlap, path in out.items():
        extract(network, hps_name="hps_0", hps=CONFIGURATIONS[2], timesteps=2, batch_size=2, out_h5=path, overlap_writes=overlap)
    with h5py.File(out[False]) as plain, h5py.File(out[True]) as overlapped:
        for name in ("cams/gradcam/pcoder5", "target_logit", "top1", "prediction_error", "representation_change"):
            np.testing.assert_array_equal(overlapped[name][()], plain[name][()], err_msg=name)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_channels_last_on_cuda_equals_the_default_layout(precision):
    default = run("cuda", precision)
    nhwc = run("cuda", precision, memory_format=torch.channels_last)
    for name in FIELDS:
        deviation = (nhwc[name] - default[name]).nan_to_num().abs().max() / default[name].nan_to_num().abs().max()
        assert deviation <= TOLERANCE[precision], f"{name} in {precision}: {deviation:.2e}"


@pytest.mark.parametrize("mode", ["inductor", "inductor-cudagraphs"])
def test_the_compiled_timestep_on_cuda_equals_eager(mode):
    # One configuration: every work plan compiles its own graph, and GPU time is scarce.
    eager = run("cuda", "fp32", configurations=CONFIGURATIONS[2:])
    for attempt in range(2):  # the second run replays what the first compiled (and captured)
        compiled = run("cuda", "fp32", mode, configurations=CONFIGURATIONS[2:])
        for name in FIELDS:
            deviation = (compiled[name] - eager[name]).nan_to_num().abs().max() / eager[name].nan_to_num().abs().max()
            assert deviation <= TOLERANCE["fp32"], f"{name}, {mode}, run {attempt + 1}: {deviation:.2e}"
        assert torch.equal(compiled["top1"], eager["top1"])
