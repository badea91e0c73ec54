"""`extraction.compile`: the dynamics' timestep through `torch.compile`.

* `eager` (the default): plain PyTorch.
* `inductor`: `torch.compile` (TorchInductor, its default mode) compiles the timestep
  (`PCDynamics._step`: stages, state updates, predictions, errors and their written-out
  gradients). The convolutions stay the same library kernels; what it gains is the elementwise
  work around them, fused into fewer passes over memory.
* `inductor-cudagraphs` (CUDA only): as `inductor`, and each compiled timestep is replayed as a
  CUDA graph (`torch.compile`'s mode reduce-overhead): one launch instead of hundreds, which pays
  for small networks and batches, where the GPU would otherwise wait for Python.

The numbers equal eager ones within float32 rounding (fused sums in another order; tests bound
it), as a run on another device does, so this is an execution setting like `extraction.device`:
recorded in the outputs, rerunning nothing. Compiling takes tens of seconds per work plan and
batch shape (`WorkPlan.signature`, and the last step of a trajectory, which skips work) the first
time a job meets it: it pays in long jobs with few plans (`extract` on thousands of images), less
in sweep chunks that meet many plans.

Replays of a CUDA graph write their outputs into the same memory; a timestep's state is used by
the next one and by the readout after it, so under `inductor-cudagraphs` each state is copied
out of the graph's memory (one more pass over the state per step).
"""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

COMPILE_MODES = ("eager", "inductor", "inductor-cudagraphs")

# The `torch.compile` mode of each setting (YAML would read a bare `off` as false, hence own names).
_TORCH_MODES = {"inductor": "default", "inductor-cudagraphs": "reduce-overhead"}

State = TypeVar("State")


def check_compile_mode(mode: str, device: torch.device) -> None:
    """Stop before any work when `mode` is unknown or cannot run on `device`."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"extraction.compile: {mode!r} is not one of {', '.join(COMPILE_MODES)}")
    if mode == "inductor-cudagraphs" and device.type != "cuda":
        raise ValueError(
            f"extraction.compile: inductor-cudagraphs replays CUDA graphs and needs a CUDA device; this job runs "
            f"on {device}. Use eager or inductor"
        )


def compiled_timestep(step: Callable[..., State], mode: str, copy_out: Callable[[State], State]) -> Callable[..., State]:
    """`step` as `mode` (checked by `check_compile_mode`) runs it; `copy_out` copies a state out
    of a CUDA graph's output memory."""
    if mode == "eager":
        return step
    compiled = torch.compile(step, mode=_TORCH_MODES[mode])
    if mode == "inductor":
        return compiled

    def replayed(*args, **kwargs) -> State:
        torch.compiler.cudagraph_mark_step_begin()
        return copy_out(compiled(*args, **kwargs))

    return replayed
