"""`extraction.batch_size: auto`: the largest device batch that fits in the GPU's free memory.

A batch's memory is affine in its rows (configuration-image pairs): what the network and the
shared t = 0 pass hold, plus so much per row. Both terms are measured, not estimated, by running
the engine itself on two small probe batches and reading the CUDA allocator's peak
(`measure_footprint`); `fitting_batch_size` then solves for the rows that fit in a share of the
free memory. The result is rounded down to a power of two, so that small changes in free memory
between runs do not change the batch shape (kernels pick algorithms by shape; the numbers, and
the resumable batches of `pcgc.storage.resume`, stay those of the same batch size).

On the CPU there is no allocator to ask and memory is rarely what limits a batch: `auto` is
refused there with a message naming the key, rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from pcgc.compute.cam import CamRequest
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine
from pcgc.spec.hyperparameters import HyperParameters

AUTO = "auto"

# The share of free memory a batch may take: the allocator fragments, and cuDNN picks workspaces
# by what is free when a kernel first runs.
HEADROOM = 0.8
# Rows of the two probe batches; the difference of their peaks is what a row costs.
PROBE_ROWS = (2, 6)


@dataclass(frozen=True)
class Footprint:
    """Peak device memory of one batch: `fixed_bytes + rows * row_bytes`."""

    fixed_bytes: float
    row_bytes: float


def fitting_batch_size(free_bytes: int, footprint: Footprint, *, headroom: float = HEADROOM, limit: int | None = None) -> int:
    """The largest power of two of rows whose footprint fits in `headroom * free_bytes` (at most
    `limit`, when given: more rows than the job has only pad)."""
    if footprint.row_bytes <= 0:
        raise ValueError(f"a batch row must cost memory; measured {footprint.row_bytes} bytes per row")
    budget = headroom * free_bytes - footprint.fixed_bytes
    rows = int(budget // footprint.row_bytes)
    if rows < 1:
        raise MemoryError(
            f"extraction.batch_size: auto: not even one row fits: {free_bytes / 2**30:.2f} GiB free, a batch needs "
            f"{footprint.fixed_bytes / 2**30:.2f} GiB plus {footprint.row_bytes / 2**20:.1f} MiB per row"
        )
    if limit is not None:
        rows = min(rows, max(1, limit))
    return 1 << (rows.bit_length() - 1)


def measure_footprint(run_rows: Callable[[int], None], device: torch.device) -> Footprint:
    """Peak memory of `run_rows(rows)` for the probe sizes, as fixed + per-row bytes."""
    peaks = []
    for rows in PROBE_ROWS:
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run_rows(rows)
        torch.cuda.synchronize(device)
        peaks.append(torch.cuda.max_memory_allocated(device) - baseline)
    small, large = PROBE_ROWS
    row_bytes = (peaks[1] - peaks[0]) / (large - small)
    return Footprint(fixed_bytes=max(0.0, peaks[0] - small * row_bytes), row_bytes=row_bytes)


def resolve_batch_size(setting: int | str, device: torch.device, run_rows: Callable[[int], None], *, limit: int | None = None) -> int:
    """`setting` itself when it is a number; for `auto`, measured on `device` (CUDA only)."""
    if setting != AUTO:
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
            raise ValueError(f"extraction.batch_size: expected a positive integer or {AUTO!r}, got {setting!r}")
        return setting
    if device.type != "cuda":
        raise ValueError(
            f"extraction.batch_size: {AUTO!r} sizes batches from free GPU memory, but the device is {device}; "
            "set an integer (images per batch) for CPU runs"
        )
    free_bytes, _ = torch.cuda.mem_get_info(device)
    return fitting_batch_size(free_bytes, measure_footprint(run_rows, device), limit=limit)


def engine_probe(
    dynamics: PCDynamics, x: torch.Tensor, target: torch.Tensor, configuration: HyperParameters, *,
    timesteps: int, diagnostics: bool, precision: str, cams: CamRequest | None = None,
) -> Callable[[int], None]:
    """`run_rows` for `measure_footprint`: the engine on `rows` copies of one image `x` [1, C, H, W]
    (class `target` [1]) under one configuration, with the job's CAM request, as the job will run
    it. Two timesteps suffice: a step overwrites the state of the one before."""

    def run_rows(rows: int) -> None:
        engine = Engine(dynamics, batch_size=rows, diagnostics=diagnostics, precision=precision, cams=cams)
        for _ in engine.run(x.expand(rows, *x.shape[1:]), target.expand(rows), [configuration], min(timesteps, 2)):
            pass

    return run_rows
