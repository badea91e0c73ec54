"""What the jobs that run the network ask a scheduler for: a GPU (or none), CPUs, memory, run time.

The run time limit comes from the job's size: images x states (t = 0..T) x configurations, times
the cost of one image-timestep computing everything (`NetworkRecord.gmacs_per_step`, an upper bound of
what the engine does), at the configured sustained rate of the device, times a safety factor, and
never below a floor (start-up, loading weights). A scheduler then gets a limit that grows with the
work instead of one guess for every job.

None of this changes a result, so none of it is a rule param: changing it reruns nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from pcgc.spec.networks import NETWORKS


@dataclass(frozen=True)
class JobSize:
    """How much network work one job does."""

    images: int
    states: int
    """Timesteps computed per image and configuration (t = 0..T: T + 1)."""
    configurations: int = 1

    def image_steps(self) -> int:
        return self.images * self.states * self.configurations


def device_kind(device: str) -> str:
    """`cpu` or `cuda`: the kind of device `extraction.device` runs on (auto counts as cuda: on a
    cluster a network job asks for a GPU, and auto then finds it)."""
    return "cpu" if device == "cpu" else "cuda"


@dataclass(frozen=True)
class NetworkJobs:
    """The scheduler resources of the jobs that run the network, read from a validated config."""

    device: str
    cpus: int
    mem_mb: int
    gpu_model: str | None
    gflops: float
    gmacs_per_step: float
    safety_factor: float
    min_runtime: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "NetworkJobs":
        settings = config["resources"]
        device = config["extraction"]["device"]
        return cls(
            device=device,
            cpus=settings["cpus"],
            mem_mb=settings["mem_mb"],
            gpu_model=settings["gpu_model"],
            gflops=settings["gflops"][device_kind(device)],
            gmacs_per_step=NETWORKS[config["model"]["spec"]].gmacs_per_step,
            safety_factor=settings["runtime"]["safety_factor"],
            min_runtime=settings["runtime"]["min_minutes"],
        )

    @property
    def gpu(self) -> int:
        """GPUs per job: one, unless the device is the CPU."""
        return 0 if device_kind(self.device) == "cpu" else 1

    def runtime(self, size: JobSize) -> int:
        """Minutes: the estimate from the size and the device's rate, with margin and floor."""
        seconds = 2 * self.gmacs_per_step * size.image_steps() / self.gflops
        return max(self.min_runtime, math.ceil(self.safety_factor * seconds / 60))

    def resources(self, size: JobSize | Callable[[Any], JobSize]) -> dict[str, Any]:
        """A rule's `resources` (Snakemake and snakemake-executor-plugin-slurm names); `size` is
        the job's size, or a function of its wildcards that gives it."""
        if callable(size):
            runtime: int | Callable[[Any], int] = lambda wildcards: self.runtime(size(wildcards))
        else:
            runtime = self.runtime(size)
        found: dict[str, Any] = {"mem_mb": self.mem_mb, "runtime": runtime}
        if self.gpu:
            found.update(gpu=self.gpu, cpus_per_gpu=self.cpus)
            # The plugin asks for a GPU whenever a type is given: only GPU jobs may carry one.
            if self.gpu_model:
                found["gpu_model"] = self.gpu_model
        return found


def count_images(value: int | str | list, all_images: int) -> int:
    """An image count given as a number, `all` or a list of ids."""
    if value == "all":
        return all_images
    return len(value) if isinstance(value, list) else int(value)


__all__ = ["JobSize", "NetworkJobs", "count_images", "device_kind"]
