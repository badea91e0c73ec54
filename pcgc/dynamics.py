"""Predify's predictive-coding dynamics, timestep by timestep (docs/predictive-coding.md).

At t = 0 every PCoder takes its feedforward drive: `rep_n = ff_n`. At t >= 1, bottom-up,

    rep_n = beta_n * ff_n + lam_n * prd_{n+1} + (1 - beta_n - lam_n) * rep_n - alpha_n * grd_n

where `ff_n` is stage n applied to the fresh `rep_{n-1}` (or the input), and `prd_{n+1}`, `rep_n`,
`grd_n` are from t - 1 (PCoder n+1 has not run yet). After the update PCoder n predicts the layer
below, `prd_n = pmodule_n(rep_n)`, and measures `err_n = MSE(prd_n, target_n)` against the input
(n = 1) or against `rep_{n-1}` already updated at t; `grd_n = d err_n / d rep_n`.

Two deliberate choices:

* The error is the mean over **each image's** elements, not over the batch as in Predify, so an
  image's trajectory does not depend on the batch it runs in. At batch size 1 this is Predify.
* beta, lambda and alpha are given per batch element (`Coefficients`, shape [B, N]), so many
  hyperparameter configurations can share one batch, and all of them one t = 0 state
  (`DynamicsState.select`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Sequence

import torch
from torch import nn

from pcgc.models import PredictiveCodingNetwork


@dataclass(frozen=True)
class HyperParameters:
    """beta (feedforward), lambda (feedback) and alpha (error correction), one value per PCoder."""

    beta: tuple[float, ...]
    lam: tuple[float, ...]
    alpha: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.beta) == len(self.lam) == len(self.alpha)):
            raise ValueError(
                f"beta, lambda and alpha need one value per PCoder; got {len(self.beta)}, "
                f"{len(self.lam)} and {len(self.alpha)} values"
            )
        for n, (b, l, a) in enumerate(zip(self.beta, self.lam, self.alpha), start=1):
            if b < 0 or l < 0 or a < 0:
                raise ValueError(f"PCoder {n}: beta={b}, lambda={l}, alpha={a} must be non-negative")
            if b + l > 1 + 1e-9:
                raise ValueError(f"PCoder {n}: beta + lambda = {b} + {l} > 1 leaves a negative memory term")

    @classmethod
    def uniform(cls, num_pcoders: int, beta: float, lam: float, alpha: float) -> "HyperParameters":
        return cls((beta,) * num_pcoders, (lam,) * num_pcoders, (alpha,) * num_pcoders)

    @classmethod
    def single_pcoder(
        cls, num_pcoders: int, active: int, beta: float, lam: float, alpha: float
    ) -> "HyperParameters":
        """PCoder `active` (1-based) gets the values; the others beta=1, lambda=alpha=0 (frozen)."""
        if not 1 <= active <= num_pcoders:
            raise ValueError(f"active PCoder {active} is not in 1..{num_pcoders}")
        values = [(1.0, 0.0, 0.0)] * num_pcoders
        values[active - 1] = (beta, lam, alpha)
        b, l, a = zip(*values)
        return cls(b, l, a)

    @classmethod
    def from_config(cls, entry: dict) -> "HyperParameters":
        """A `hyperparameters.<name>` entry of the workflow config ({beta, lambda, alpha} lists)."""
        return cls(tuple(entry["beta"]), tuple(entry["lambda"]), tuple(entry["alpha"]))

    def as_dict(self) -> dict[str, list[float]]:
        return {"beta": list(self.beta), "lambda": list(self.lam), "alpha": list(self.alpha)}


@dataclass(frozen=True)
class Coefficients:
    """Per-batch-element coefficients: each tensor is [B, N] (batch element, PCoder)."""

    beta: torch.Tensor
    lam: torch.Tensor
    alpha: torch.Tensor

    @classmethod
    def stack(
        cls, settings: Sequence[HyperParameters], device: torch.device | str | None = None
    ) -> "Coefficients":
        """One row per batch element, in the order given."""

        def column(name: str) -> torch.Tensor:
            return torch.tensor([getattr(s, name) for s in settings], dtype=torch.float64, device=device)

        return cls(column("beta"), column("lam"), column("alpha"))

    @classmethod
    def broadcast(
        cls, hps: HyperParameters, batch_size: int, device: torch.device | str | None = None
    ) -> "Coefficients":
        return cls.stack([hps] * batch_size, device=device)

    def pcoder(self, n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """beta, lambda, alpha of PCoder n (0-based), shaped and typed to scale `like` ([B, ...])."""
        shape = (-1,) + (1,) * (like.ndim - 1)
        return tuple(
            c[:, n].to(device=like.device, dtype=like.dtype).view(shape) for c in (self.beta, self.lam, self.alpha)
        )

    def frozen(self, n: int) -> bool:
        """PCoder n (0-based) is plain feedforward in every batch element: beta=1, lambda=alpha=0."""
        return bool(
            (self.beta[:, n] == 1).all() and (self.lam[:, n] == 0).all() and (self.alpha[:, n] == 0).all()
        )


@dataclass(frozen=True)
class DynamicsState:
    """Everything timestep t + 1 needs from timestep t. All tensors are detached, batch first."""

    t: int
    reps: tuple[torch.Tensor, ...]
    predictions: tuple[torch.Tensor, ...]
    gradients: tuple[torch.Tensor | None, ...]
    """d err_n / d rep_n; None where it was not computed (alpha_n = 0 in every batch element)."""
    errors: torch.Tensor
    """[B, N] per-image prediction error of each PCoder at time t."""

    def select(self, index: torch.Tensor) -> "DynamicsState":
        """Batch elements `index` (with repeats): e.g. one t = 0 state shared by many configurations."""

        def pick(tensors: tuple[torch.Tensor | None, ...]) -> tuple[torch.Tensor | None, ...]:
            return tuple(None if x is None else x.index_select(0, index) for x in tensors)

        return replace(
            self,
            reps=pick(self.reps),
            predictions=pick(self.predictions),
            gradients=pick(self.gradients),
            errors=self.errors.index_select(0, index),
        )


@dataclass(frozen=True)
class Readout:
    """What the network says at one timestep."""

    t: int
    activation: torch.Tensor
    """rep of the top PCoder (the Grad-CAM layer), a leaf that requires grad."""
    logits: torch.Tensor
    """[B, classes], computed from `activation` with the graph kept, so Grad-CAM needs no re-run."""
    errors: torch.Tensor
    """[B, N] per-image prediction error of each PCoder."""
    state: DynamicsState


class PCDynamics:
    """Runs the dynamics of a `PredictiveCodingNetwork` on batches.

    `gradient_scaling=True` is Predify's PCoderN: the error-gradient term is multiplied by
    `numel / sqrt(C)`, with numel the elements of one image's prediction and C the number of
    prediction cells that a single central representation cell reaches (see `receptive_count`).

    `reuse_frozen_prefix`: PCoders 1..k that are frozen (beta=1, lambda=alpha=0) in every batch
    element keep exactly their t = 0 values, so their stages are not recomputed. Off, every stage
    runs at every timestep (the tests compare both).
    """

    def __init__(
        self,
        net: PredictiveCodingNetwork,
        *,
        gradient_scaling: bool = False,
        reuse_frozen_prefix: bool = True,
    ) -> None:
        self.net = net.eval()
        self.gradient_scaling = gradient_scaling
        self.reuse_frozen_prefix = reuse_frozen_prefix
        self._error_scale: list[float] | None = None

    # -- one PCoder ---------------------------------------------------------------------------

    def _predict(
        self, n: int, rep: torch.Tensor, target: torch.Tensor, with_gradient: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """prd_n, the per-image error and (if asked) its gradient with respect to rep_n."""
        pmodule = self.net.pmodules[n]
        if not with_gradient:
            with torch.no_grad():
                prediction = pmodule(rep)
                error = (prediction - target).pow(2).flatten(1).mean(1)
            return prediction, error, None
        with torch.enable_grad():
            leaf = rep.detach().requires_grad_(True)
            prediction = pmodule(leaf)
            error = (prediction - target).pow(2).flatten(1).mean(1)
            # Images are independent, so the gradient of the sum is each image's own gradient.
            (gradient,) = torch.autograd.grad(error.sum(), leaf)
        if self.gradient_scaling:
            gradient = gradient * self.error_scale(n, rep)
        return prediction.detach(), error.detach(), gradient

    def error_scale(self, n: int, rep: torch.Tensor) -> float:
        """PCoderN's factor numel / sqrt(C) for PCoder n (0-based), measured once per network."""
        if self._error_scale is None:
            self._error_scale = [0.0] * self.net.num_pcoders
        if self._error_scale[n] == 0.0:
            count = receptive_count(self.net.pmodules[n], rep.shape[1:], rep.device, rep.dtype)
            numel = self.net.pmodules[n](rep[:1].detach()).numel()
            self._error_scale[n] = numel / count**0.5
        return self._error_scale[n]

    # -- timesteps ----------------------------------------------------------------------------

    @torch.no_grad()
    def initial_state(self, x: torch.Tensor, with_gradients: Sequence[bool] | None = None) -> DynamicsState:
        """t = 0: the plain feedforward pass, each PCoder's rep set to its drive.

        `with_gradients[n]` says whether PCoder n's error gradient is needed later (alpha_n > 0 in
        some configuration); by default all are computed.
        """
        count = self.net.num_pcoders
        with_gradients = [True] * count if with_gradients is None else list(with_gradients)
        reps, predictions, gradients, errors = [], [], [], []
        below = x
        for n, stage in enumerate(self.net.stages):
            rep = stage(below)
            prediction, error, gradient = self._predict(n, rep, below, with_gradients[n])
            reps.append(rep)
            predictions.append(prediction)
            gradients.append(gradient)
            errors.append(error)
            below = rep
        return DynamicsState(0, tuple(reps), tuple(predictions), tuple(gradients), torch.stack(errors, 1))

    @torch.no_grad()
    def step(self, state: DynamicsState, x: torch.Tensor, coefficients: Coefficients) -> DynamicsState:
        """Timestep t + 1 from timestep t, on the same input x."""
        count = self.net.num_pcoders
        frozen_prefix = 0
        if self.reuse_frozen_prefix:
            while frozen_prefix < count and coefficients.frozen(frozen_prefix):
                frozen_prefix += 1
        reps = list(state.reps[:frozen_prefix])
        predictions = list(state.predictions[:frozen_prefix])
        gradients = list(state.gradients[:frozen_prefix])
        errors = [state.errors[:, n] for n in range(frozen_prefix)]
        below = x if frozen_prefix == 0 else reps[-1]
        for n in range(frozen_prefix, count):
            drive = self.net.stages[n](below)
            beta, lam, alpha = coefficients.pcoder(n, drive)
            if self.net.pcoders[n].has_feedback:
                rep = beta * drive + lam * state.predictions[n + 1] + (1 - beta - lam) * state.reps[n]
            else:  # nothing above: lambda has no effect and the memory weight is 1 - beta
                rep = beta * drive + (1 - beta) * state.reps[n]
            needs_gradient = bool((coefficients.alpha[:, n] != 0).any())
            if needs_gradient:
                if state.gradients[n] is None:
                    raise ValueError(
                        f"PCoder {n + 1} has alpha > 0 but its error gradient was not computed at "
                        f"t = {state.t}; pass with_gradients to initial_state"
                    )
                rep = rep - alpha * state.gradients[n]
            prediction, error, gradient = self._predict(n, rep, below, needs_gradient)
            reps.append(rep)
            predictions.append(prediction)
            gradients.append(gradient)
            errors.append(error)
            below = rep
        return DynamicsState(state.t + 1, tuple(reps), tuple(predictions), tuple(gradients), torch.stack(errors, 1))

    def readout(self, state: DynamicsState) -> Readout:
        """Logits from the top representation, keeping the graph for Grad-CAM."""
        with torch.enable_grad():
            activation = state.reps[-1].detach().requires_grad_(True)
            logits = self.net.head(activation)
        return Readout(state.t, activation, logits, state.errors, state)

    def run(
        self,
        x: torch.Tensor,
        timesteps: int,
        coefficients: Coefficients,
        initial: DynamicsState | None = None,
    ) -> Iterator[Readout]:
        """Readouts at t = 0, 1, ..., timesteps. `initial` reuses a t = 0 state computed before."""
        if timesteps < 0:
            raise ValueError(f"timesteps must be >= 0, got {timesteps}")
        if coefficients.beta.shape != (x.shape[0], self.net.num_pcoders):
            raise ValueError(
                f"coefficients have shape {tuple(coefficients.beta.shape)}, expected "
                f"({x.shape[0]}, {self.net.num_pcoders}) for this batch"
            )
        state = initial
        if state is None:
            needed = [bool((coefficients.alpha[:, n] != 0).any()) for n in range(self.net.num_pcoders)]
            state = self.initial_state(x, needed)
        yield self.readout(state)
        for _ in range(timesteps):
            state = self.step(state, x, coefficients)
            yield self.readout(state)


def receptive_count(
    pmodule: nn.Module, rep_shape: Sequence[int], device: torch.device | str, dtype: torch.dtype
) -> int:
    """C of Predify's PCoderN: how many prediction cells change with one central rep cell.

    As Predify measures it: a zero representation whose central cell (middle channel, row and
    column) is set to c = 1, and the count of non-zero entries of d prediction / d c.
    """
    channels, height, width = rep_shape
    basis = torch.zeros((1, channels, height, width), device=device, dtype=dtype)
    basis[0, channels // 2, height // 2, width // 2] = 1
    one = torch.ones((), device=device, dtype=dtype)
    with torch.no_grad():
        _, derivative = torch.func.jvp(lambda c: pmodule(c * basis), (one,), (one,))
    return int((derivative != 0).sum())
