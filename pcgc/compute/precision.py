"""The arithmetic precision the network runs in: `model.precision` in the workflow config.

* `fp32`: IEEE float32 throughout, the reference. On CUDA this switches off TF32 for
  convolutions, which PyTorch allows by default (cuDNN convolutions would otherwise round their
  inputs to 10 mantissa bits).
* `tf32` (CUDA only): float32 storage, TensorFloat-32 matrix multiplications and convolutions.
* `bf16`: `torch.autocast` to bfloat16: convolutions and matrix products take bfloat16 inputs
  (float32 accumulation), while the dynamics keep their state, coefficients and prediction errors
  in float32 (`pcgc.compute.dynamics`). On CPUs with AVX-512 BF16 or AMX and on current GPUs this is
  2-3x faster than fp32.

The context is entered around computation only, never across a `yield`, so that code between two
batches (scoring, writing) runs in the caller's precision.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

PRECISIONS = ("fp32", "tf32", "bf16")

# The layers whose weights autocast rounds to bfloat16 at every call.
_AUTOCAST_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def check_precision(name: str, device: torch.device) -> None:
    """Stop before any work when `name` is unknown or cannot run on `device`."""
    if name not in PRECISIONS:
        raise ValueError(f"model.precision: {name!r} is not one of {', '.join(PRECISIONS)}")
    if name == "tf32" and device.type != "cuda":
        raise ValueError(f"model.precision: tf32 needs a CUDA device; this job runs on {device}. Use fp32 or bf16")


def prepare_network(net: nn.Module, precision: str) -> nn.Module:
    """`net`, made ready to run in `precision` (in place).

    For bf16 the weights and biases of convolutions and linear layers are rounded to bfloat16
    once, as autocast would round them at every call: the same numbers, without copying hundreds
    of megabytes per timestep. Everything else (normalisation layers, their statistics) keeps its
    precision, as under autocast; the network then only runs inside `computing_in`.
    """
    if precision == "bf16":
        for module in net.modules():
            if isinstance(module, _AUTOCAST_LAYERS):
                module.to(torch.bfloat16)
    return net


@contextmanager
def _cuda_float32(mode: str) -> Iterator[None]:
    """float32 matmuls and cuDNN convolutions in `mode` ("ieee" or "tf32"), restored afterwards."""
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (matmul.fp32_precision, conv.fp32_precision)
    matmul.fp32_precision, conv.fp32_precision = mode, mode
    try:
        yield
    finally:
        matmul.fp32_precision, conv.fp32_precision = before


@contextmanager
def computing_in(name: str, device: torch.device) -> Iterator[None]:
    """Run the enclosed computation on `device` in precision `name`."""
    check_precision(name, device)
    if name == "bf16":
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
    elif device.type == "cuda":
        with _cuda_float32("tf32" if name == "tf32" else "ieee"):
            yield
    else:
        yield
