"""The controls of `pcgc.spec.controls` applied to a network: what each condition runs.

The random-feedback control replaces each predictor parameter tensor w (every weight and bias of
every PCoder's predictor) by

    w' = mean(w) + std(w) * (z - mean(z)) / std(z),    z ~ N(0, 1) elementwise,

(population standard deviations), so that w' has w's mean and standard deviation exactly, up to
rounding; z comes from a generator seeded by the seed, the PCoder and the parameter's name, so a
tensor's draw depends on nothing else. A tensor of one element has no spread and is kept. The
backbone is shared with the trained network, not copied: the control changes the predictors and
nothing else.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

import torch

from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.networks import PredictiveCodingNetwork
from pcgc.spec.controls import CONTROLS, TRAINED
from pcgc.spec.hyperparameters import HyperParameters


def _generator(seed: int, pcoder: int, name: str) -> torch.Generator:
    digest = hashlib.sha256(f"random_feedback:{seed}:{pcoder}:{name}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


@torch.no_grad()
def randomized_predictors(net: PredictiveCodingNetwork, seed: int) -> PredictiveCodingNetwork:
    """A network with `net`'s backbone (the same modules) and random predictors (module docstring)."""
    # deepcopy with the backbone's tensors pre-filled in the memo: they are shared, not copied.
    memo = {id(t): t for t in (*net.backbone.parameters(), *net.backbone.buffers())}
    out = copy.deepcopy(net, memo)
    for n, pmodule in enumerate(out.pmodules):
        for name, parameter in pmodule.named_parameters():
            if parameter.numel() < 2:
                continue
            original = parameter.detach().double()
            z = torch.randn(parameter.shape, generator=_generator(seed, n + 1, name), dtype=torch.float64)
            z = (z - z.mean()) / z.std(correction=0)
            parameter.copy_((original.mean() + original.std(correction=0) * z.to(original.device)).to(parameter.dtype))
    return out


@dataclass(frozen=True)
class Condition:
    """What one condition runs: its dynamics (network), coefficients, and whether its feedback is shuffled."""

    name: str
    dynamics: PCDynamics
    hyperparameters: HyperParameters
    shuffled_feedback: bool


def condition(name: str, dynamics: PCDynamics, hps: HyperParameters, *, seed: int) -> Condition:
    """The condition `name` (`TRAINED` or a control of `pcgc.spec.controls.CONTROLS`) on `dynamics`."""
    if name == TRAINED:
        return Condition(name, dynamics, hps, False)
    if name not in CONTROLS:
        raise ValueError(f"unknown condition {name!r}: {TRAINED} or one of {', '.join(CONTROLS)}")
    control = CONTROLS[name]
    if control.random_predictors:
        dynamics = PCDynamics(
            randomized_predictors(dynamics.net, seed),
            gradient_scaling=dynamics.gradient_scaling,
            skip_unneeded_work=dynamics.skip_unneeded_work,
            compile_mode=dynamics.compile_mode,
        )
    return Condition(name, dynamics, control.coefficients(hps), control.shuffled_feedback)
