"""The CUDA path equals the CPU path within the tolerance of its precision (skipped without a GPU;
`benchmarks/gpu_check.sh` runs these on a GPU machine)."""

from __future__ import annotations

import pytest
import torch

from pcgc.dynamics import HyperParameters, PCDynamics
from pcgc.engine import Engine
from pcgc.predictors import Predictor
from tests.conftest import random_mini

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


def run(device: str, precision: str) -> dict[str, torch.Tensor]:
    net = random_mini(11, 6).to(device)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(4, 3, 96, 96, generator=generator).to(device)
    targets = torch.tensor([0, 4, 2, 1], device=device)
    engine = Engine(PCDynamics(net), batch_size=8, diagnostics=True, precision=precision)
    blocks = list(engine.run(x, targets, CONFIGURATIONS, 3))
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
