"""A cost model of the dynamics: multiply-accumulates (MACs; 1 MAC = 2 FLOP) per image for each piece
of a network, and what a timestep costs under a `WorkPlan`.

The pieces are counted from the network itself, on one input of its size: convolutions and
transposed convolutions (output or input cells x kernel volume x channels) and linear layers;
pooling, normalisation and activations are neglected. An error gradient costs one more pass
through its predictor (the adjoint of a convolution has the same MACs), and Grad-CAM's backward
pass through the head about twice the head's forward.

For PVGG16 at 224 x 224 this gives 15.3 GMACs for the backbone's five stages, 60.8 for the five
predictors and 0.12 for the head: computing everything at every step, as Predify does, is 137.46
GMACs (275 GFLOP) per image and timestep.

    python benchmarks/costmodel.py pvgg16

prints that count for a network of pcgc.spec.networks, with the number its record holds
(`gmacs_per_step`, which the run time limits of its jobs are computed from).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from pcgc.compute.dynamics import WorkPlan
from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.spec.networks import NETWORKS

GIGA = 1e9


def _macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output[0].numel() * kernel
    if isinstance(module, nn.ConvTranspose2d):
        kernel = module.out_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return inputs[0][0].numel() * kernel
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def _count(module: nn.Module, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    """GMACs of `module` on one input `x` ([1, ...]), and its output."""
    total = 0
    handles = []

    def hook(layer, inputs, output):
        nonlocal total
        total += _macs(layer, inputs, output)

    for layer in module.modules():
        handles.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            output = module(x)
    finally:
        for handle in handles:
            handle.remove()
    return total / GIGA, output


@dataclass(frozen=True)
class CostModel:
    """GMACs per image: each stage, each predictor's forward pass, the head's forward pass."""

    stages: tuple[float, ...]
    predictors: tuple[float, ...]
    head: float

    @classmethod
    def of(cls, net: PredictiveCodingNetwork, size: int | None = None) -> "CostModel":
        size = size or net.input_size
        x = torch.zeros(1, 3, size, size, device=next(net.parameters()).device)
        stages, predictors = [], []
        below = x
        for stage, pmodule in zip(net.stages, net.pmodules):
            macs, rep = _count(stage, below)
            stages.append(macs)
            predictors.append(_count(pmodule, rep)[0])
            below = rep
        return cls(tuple(stages), tuple(predictors), _count(net.head, below)[0])

    @property
    def readout(self) -> float:
        """The head's forward pass and Grad-CAM's backward through it."""
        return 3 * self.head

    def everything(self) -> float:
        """One timestep computing every stage, predictor and error gradient (Predify's way)."""
        return sum(self.stages) + 2 * sum(self.predictors) + self.readout

    def initial(self, plan: WorkPlan) -> float:
        """t = 0 under `plan` (every stage; the predictions and gradients later steps need)."""
        extra = sum(p for p, needed in zip(self.predictors, plan.prediction) if needed)
        return sum(self.stages) + extra + self._gradients(plan) + self.readout

    def step(self, plan: WorkPlan, *, last: bool = False) -> float:
        """One timestep t >= 1 under `plan`, as `PCDynamics` computes it, the `last` step of a
        trajectory included (`WorkPlan.runs_at_last_step`)."""
        if not plan.skip_unneeded_work:
            return self.everything()
        active = range(plan.first_active, len(self.stages))
        runs = [plan.runs_at_last_step(n) if last else (plan.prediction[n], plan.gradient[n]) for n in range(len(self.stages))]
        # The lowest active PCoder's drive is constant (its input never changes).
        stages = sum(self.stages[n] for n in active if n != plan.first_active)
        predictors = sum(self.predictors[n] for n in active if runs[n][0])
        gradients = sum(self.predictors[n] for n in active if runs[n][1])
        return stages + predictors + gradients + self.readout

    def _gradients(self, plan: WorkPlan) -> float:
        return sum(p for p, needed in zip(self.predictors, plan.gradient) if needed)

    def sweep(self, plans: Sequence[WorkPlan], timesteps: int, *, shared_t0: bool) -> float:
        """GMACs per image for every configuration's t = 0..timesteps: t = 0 once for all (the
        sweep engine) or once per configuration."""
        if shared_t0:
            union = plans[0]
            for plan in plans[1:]:
                union = union.union(plan)
            first = self.initial(union)
        else:
            first = sum(self.initial(plan) for plan in plans)
        if timesteps == 0:
            return first
        return first + sum((timesteps - 1) * self.step(plan) + self.step(plan, last=True) for plan in plans)


# A network whose classes the dataset decides is counted with the demo world's six (its head is a
# negligible part of the cost).
DEFAULT_CLASSES = 6


def network_cost(name: str, num_classes: int | None = None) -> CostModel:
    """The cost model of a network of pcgc.spec.networks at its input size, counted on shapes only."""
    record = NETWORKS[name]
    with torch.device("meta"):
        net = build_network(name, num_classes or record.num_classes or DEFAULT_CLASSES)
    return CostModel.of(net)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="GMACs per image and timestep of a network, computing everything at every step.")
    parser.add_argument("network", choices=sorted(NETWORKS))
    parser.add_argument("--num-classes", type=int, help=f"for a network without fixed classes (default {DEFAULT_CLASSES})")
    args = parser.parse_args(argv)
    record = NETWORKS[args.network]
    model = network_cost(args.network, args.num_classes)
    print(f"{record.name} at {record.input_size} x {record.input_size}:")
    print(f"  stages      {', '.join(f'{g:.4g}' for g in model.stages)} GMACs")
    print(f"  predictors  {', '.join(f'{g:.4g}' for g in model.predictors)} GMACs (an error gradient costs as much again)")
    print(f"  head        {model.head:.4g} GMACs (x3 with Grad-CAM's backward pass)")
    print(f"  everything  {model.everything():.6g} GMACs per image and timestep")
    print(f"  its record's gmacs_per_step: {record.gmacs_per_step}")


if __name__ == "__main__":
    main()
