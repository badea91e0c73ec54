"""Predify's predictive-coding dynamics, timestep by timestep.

At t = 0 every PCoder takes its feedforward drive: `rep_n = ff_n`. At t >= 1, bottom-up,

    rep_n = beta_n * ff_n + lam_n * prd_{n+1} + (1 - beta_n - lam_n) * rep_n - alpha_n * grd_n

where `ff_n` is stage n applied to the fresh `rep_{n-1}` (or the input), and `prd_{n+1}`, `rep_n`,
`grd_n` are from t - 1 (PCoder n+1 has not run yet). The top PCoder has nothing above it: its
update is `beta * ff + (1 - beta) * rep - alpha * grd`. After the update PCoder n predicts the layer
below, `prd_n = pmodule_n(rep_n)`, and measures `err_n = MSE(prd_n, target_n)` against the input
(n = 1) or against `rep_{n-1}` already updated at t; `grd_n = d err_n / d rep_n`.

Two deliberate choices:

* The error is the mean over **each image's** elements, not over the batch as in Predify, so an
  image's trajectory does not depend on the batch it runs in. At batch size 1 this is Predify.
* beta, lambda and alpha are given per batch element (`Coefficients`, shape [B, N]), so many
  hyperparameter configurations can share one batch, and all of them one t = 0 state
  (`DynamicsState.select`).

Only the work a batch's coefficients need is done (`WorkPlan`), with results identical to
computing everything:

* The input never changes, so the first PCoder's drive is its t = 0 value at every step; PCoders
  frozen at beta = 1, lambda = alpha = 0 in every batch element at the bottom keep their t = 0
  state, so nothing below the lowest active PCoder is recomputed and the lowest active one reuses
  its t = 0 drive.
* A frozen PCoder above it takes its drive as it is (rep = ff).
* A predictor runs only where its prediction is used: by the feedback of the PCoder below
  (lambda > 0), for its error gradient (alpha > 0), or for the recorded prediction errors
  (`diagnostics`). Where it does not run, its prediction error is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from pcgc.compute.compilation import check_compile_mode, compiled_timestep
from pcgc.compute.networks import PredictiveCodingNetwork
from pcgc.compute.predictors import Predictor
from pcgc.spec.hyperparameters import HyperParameters


@dataclass(frozen=True)
class Coefficients:
    """Per-batch-element coefficients: each tensor is [B, N] (batch element, PCoder), float64."""

    beta: torch.Tensor
    lam: torch.Tensor
    alpha: torch.Tensor

    @classmethod
    def stack(cls, settings: Sequence[HyperParameters]) -> "Coefficients":
        """One row per batch element, in the order given."""

        def column(name: str) -> torch.Tensor:
            return torch.tensor([getattr(s, name) for s in settings], dtype=torch.float64)

        return cls(column("beta"), column("lam"), column("alpha"))

    @classmethod
    def broadcast(cls, hps: HyperParameters, batch_size: int) -> "Coefficients":
        return cls.stack([hps] * batch_size)

    @property
    def batch_size(self) -> int:
        return self.beta.shape[0]

    def frozen(self, n: int) -> bool:
        """PCoder n (0-based) is plain feedforward in every batch element: beta=1, lambda=alpha=0."""
        return bool(
            (self.beta[:, n] == 1).all() and (self.lam[:, n] == 0).all() and (self.alpha[:, n] == 0).all()
        )


@dataclass(frozen=True)
class WorkPlan:
    """What the dynamics compute for a batch, per PCoder (0-based), from its coefficients.

    `first_active`: PCoders below it are frozen in every batch element and keep their t = 0 state.
    `frozen[n]`: PCoder n's rep is its drive in every batch element.
    `feedback[n]`: the update of PCoder n adds lambda_n * prd_{n+1}.
    `gradient[n]`: PCoder n's error gradient is computed (alpha_n > 0 somewhere).
    `prediction[n]`: predictor n runs (its error is known).
    `diagnostics`: every prediction error is recorded.
    The last step of a trajectory computes no error gradient, and without diagnostics no
    prediction: only a next step would use them (`runs_at_last_step`).
    With `skip_unneeded_work=False` everything is computed at every step, as Predify does.
    """

    first_active: int
    frozen: tuple[bool, ...]
    feedback: tuple[bool, ...]
    gradient: tuple[bool, ...]
    prediction: tuple[bool, ...]
    skip_unneeded_work: bool
    diagnostics: bool = True

    @classmethod
    def of(
        cls,
        coefficients: Coefficients,
        has_feedback: Sequence[bool],
        *,
        diagnostics: bool = True,
        skip_unneeded_work: bool = True,
    ) -> "WorkPlan":
        count = len(has_feedback)
        if coefficients.beta.shape[1] != count:
            raise ValueError(f"coefficients are given for {coefficients.beta.shape[1]} PCoders, the network has {count}")
        if not skip_unneeded_work:
            every = (True,) * count
            return cls(0, (False,) * count, tuple(has_feedback), every, every, False)
        frozen = tuple(coefficients.frozen(n) for n in range(count))
        first_active = next((n for n, f in enumerate(frozen) if not f), count)
        feedback = tuple(bool(has_feedback[n] and (coefficients.lam[:, n] != 0).any()) for n in range(count))
        gradient = tuple(bool((coefficients.alpha[:, n] != 0).any()) for n in range(count))
        prediction = tuple(
            diagnostics or gradient[n] or (n > 0 and feedback[n - 1]) for n in range(count)
        )
        return cls(first_active, frozen, feedback, gradient, prediction, True, diagnostics)

    def union(self, other: "WorkPlan") -> "WorkPlan":
        """A plan whose t = 0 state serves both plans (what t = 0 must compute for either)."""

        def either(a: tuple[bool, ...], b: tuple[bool, ...]) -> tuple[bool, ...]:
            return tuple(x or y for x, y in zip(a, b))

        return WorkPlan(
            min(self.first_active, other.first_active),
            tuple(x and y for x, y in zip(self.frozen, other.frozen)),
            either(self.feedback, other.feedback),
            either(self.gradient, other.gradient),
            either(self.prediction, other.prediction),
            self.skip_unneeded_work and other.skip_unneeded_work,
            self.diagnostics or other.diagnostics,
        )

    def runs_at_last_step(self, n: int) -> tuple[bool, bool]:
        """(prediction, gradient) of PCoder n at a trajectory's last step."""
        if not self.skip_unneeded_work:
            return self.prediction[n], self.gradient[n]
        return self.prediction[n] and self.diagnostics, False

    def signature(self) -> tuple:
        """Batches with equal signatures do the same work and may share a device batch."""
        return (self.first_active, self.frozen, self.feedback, self.gradient, self.prediction, self.diagnostics)


@dataclass(frozen=True)
class DynamicsState:
    """Everything timestep t + 1 needs from timestep t. All tensors are detached, batch first."""

    t: int
    reps: tuple[torch.Tensor, ...]
    predictions: tuple[torch.Tensor | None, ...]
    """prd_n; None where predictor n did not run."""
    gradients: tuple[torch.Tensor | None, ...]
    """d err_n / d rep_n; None where it was not computed."""
    errors: torch.Tensor
    """[B, N] per-image prediction error of each PCoder at time t; NaN where not computed."""

    def _map(self, function: Callable[[torch.Tensor], torch.Tensor]) -> "DynamicsState":
        """The same state with `function` applied to each of its tensors."""

        def each(tensors: tuple[torch.Tensor | None, ...]) -> tuple[torch.Tensor | None, ...]:
            return tuple(None if x is None else function(x) for x in tensors)

        return replace(
            self, reps=each(self.reps), predictions=each(self.predictions), gradients=each(self.gradients),
            errors=function(self.errors),
        )

    def select(self, index: torch.Tensor) -> "DynamicsState":
        """Batch elements `index` (with repeats): e.g. one t = 0 state shared by many configurations."""
        return self._map(lambda x: x.index_select(0, index))

    def clone(self) -> "DynamicsState":
        """The same state in memory of its own."""
        return self._map(torch.Tensor.clone)


@dataclass(frozen=True)
class Readout:
    """What the network says at one timestep."""

    t: int
    activation: torch.Tensor
    """rep of the top PCoder (the default CAM layer), in the graph of `logits`."""
    logits: torch.Tensor
    """[B, classes], computed from `activation` with the graph kept, so a CAM needs no re-run."""
    errors: torch.Tensor
    """[B, N] per-image prediction error of each PCoder (NaN where not computed)."""
    state: DynamicsState
    layers: dict[int, torch.Tensor] = field(default_factory=dict)
    """PCoder index (0-based) -> its rep, in the graph of `logits`: the top one always, lower ones
    where `PCDynamics.readout` was asked for them; index N (pcgc.spec.layers) the head layer's
    activation where asked for."""


@dataclass(frozen=True)
class _StepWeights:
    """One PCoder's coefficients as [B] tensors on the state's device and dtype, cast once per run."""

    beta: torch.Tensor
    lam: torch.Tensor
    alpha: torch.Tensor
    memory: torch.Tensor


def _scale(weight: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return weight.view((-1,) + (1,) * (like.ndim - 1))


class PCDynamics:
    """Runs the dynamics of a `PredictiveCodingNetwork` on batches.

    `gradient_scaling=True` is Predify's PCoderN: the error-gradient term is multiplied by
    `numel / sqrt(C)`, with numel the elements of one image's prediction and C the number of
    prediction cells that a single central representation cell reaches (see `receptive_count`).

    `skip_unneeded_work=False` computes every stage, predictor and error gradient at every step
    (the tests compare both ways). `compile_mode` runs the timestep through `torch.compile`
    (`pcgc.compute.compilation`).
    """

    def __init__(
        self,
        net: PredictiveCodingNetwork,
        *,
        gradient_scaling: bool = False,
        skip_unneeded_work: bool = True,
        compile_mode: str = "eager",
    ) -> None:
        self.net = net.eval()
        self.gradient_scaling = gradient_scaling
        self.skip_unneeded_work = skip_unneeded_work
        check_compile_mode(compile_mode, next(net.parameters()).device)
        self.compile_mode = compile_mode
        self._timestep = compiled_timestep(self._step, compile_mode, DynamicsState.clone)
        self._predictors = [Predictor(p) for p in net.pmodules]
        self._error_scale: list[float] | None = None

    def plan(self, coefficients: Coefficients, *, diagnostics: bool = True) -> WorkPlan:
        """The work a batch with these coefficients needs; `diagnostics` asks for every error."""
        return WorkPlan.of(
            coefficients,
            [p.has_feedback for p in self.net.pcoders],
            diagnostics=diagnostics,
            skip_unneeded_work=self.skip_unneeded_work,
        )

    # -- one PCoder ---------------------------------------------------------------------------

    def _predict(
        self, n: int, rep: torch.Tensor, target: torch.Tensor, with_gradient: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """prd_n, the per-image error and (if asked) its gradient with respect to rep_n."""
        prediction, error, gradient = self._predictors[n](rep, target, with_gradient)
        if gradient is not None and self.gradient_scaling:
            gradient = gradient * self.error_scale(n, rep)
        return prediction, error, gradient

    def error_scale(self, n: int, rep: torch.Tensor) -> float:
        """PCoderN's factor numel / sqrt(C) for PCoder n (0-based), measured once per network."""
        if self._error_scale is None:
            self._error_scale = [0.0] * self.net.num_pcoders
        if self._error_scale[n] == 0.0:
            count = receptive_count(self.net.pmodules[n], rep.shape[1:], rep.device, rep.dtype)
            numel = self.net.pmodules[n](rep[:1].detach()).numel()
            self._error_scale[n] = numel / count**0.5
        return self._error_scale[n]

    def _no_error(self, like: torch.Tensor) -> torch.Tensor:
        dtype = torch.promote_types(like.dtype, torch.float32)
        return torch.full((like.shape[0],), math.nan, dtype=dtype, device=like.device)

    # -- timesteps ----------------------------------------------------------------------------

    @torch.no_grad()
    def feedforward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every PCoder's t = 0 representation: the backbone's plain feedforward pass on x."""
        reps = []
        below = x
        for stage in self.net.stages:
            below = stage(below)
            reps.append(below)
        return tuple(reps)

    @torch.no_grad()
    def initial_state(
        self, x: torch.Tensor, plan: WorkPlan | None = None, feedforward: Sequence[torch.Tensor] | None = None
    ) -> DynamicsState:
        """t = 0: the plain feedforward pass, each PCoder's rep set to its drive.

        The plan says which predictions and error gradients later steps need (a union of plans
        when the state is shared, see `WorkPlan.union`); by default all are computed. `feedforward`,
        `self.feedforward(x)` computed before (by this network or one with the same backbone, e.g.
        a control's), skips the backbone: only the predictors run.
        """
        count = self.net.num_pcoders
        if feedforward is None:
            feedforward = self.feedforward(x)
        elif len(feedforward) != count:
            raise ValueError(f"{len(feedforward)} feedforward representations given for {count} PCoders")
        reps, predictions, gradients, errors = [], [], [], []
        below = x
        for n, rep in enumerate(feedforward):
            if plan is None or plan.prediction[n] or plan.gradient[n]:
                prediction, error, gradient = self._predict(n, rep, below, plan is None or plan.gradient[n])
            else:
                prediction, error, gradient = None, self._no_error(rep), None
            reps.append(rep)
            predictions.append(prediction)
            gradients.append(gradient)
            errors.append(error)
            below = rep
        assert len(reps) == count
        return DynamicsState(0, tuple(reps), tuple(predictions), tuple(gradients), torch.stack(errors, 1))

    def _weights(self, coefficients: Coefficients, like: torch.Tensor) -> list[_StepWeights]:
        weights = []
        for n, pcoder in enumerate(self.net.pcoders):
            beta, lam, alpha = coefficients.beta[:, n], coefficients.lam[:, n], coefficients.alpha[:, n]
            # The memory weight in float64 before the cast: 1 - beta - lam exactly as configured.
            memory = 1 - beta - lam if pcoder.has_feedback else 1 - beta
            # In at least float32: under bfloat16 autocast the drives are bfloat16, but the state
            # is accumulated in float32 and the coefficients keep their float32 values.
            dtype = torch.promote_types(like.dtype, torch.float32)
            weights.append(_StepWeights(*(w.to(device=like.device, dtype=dtype) for w in (beta, lam, alpha, memory))))
        return weights

    @torch.no_grad()
    def _step(
        self,
        state: DynamicsState,
        x: torch.Tensor,
        plan: WorkPlan,
        weights: Sequence[_StepWeights],
        first_drive: torch.Tensor,
        last: bool,
        feedback_source: torch.Tensor | None = None,
    ) -> DynamicsState:
        """Timestep t + 1 from timestep t. `first_drive` is the t = 0 drive of `plan.first_active`.
        At the `last` step only what `WorkPlan.runs_at_last_step` says is predicted.
        `feedback_source` [B] (the shuffled-feedback control): batch element b's feedback term is
        lambda_n * prd_{n+1}[feedback_source[b]], another element's prediction; None: its own."""
        start = plan.first_active
        reps = list(state.reps[:start])
        predictions = list(state.predictions[:start])
        gradients = list(state.gradients[:start])
        # A frozen PCoder's error is constant; it is reported where this plan would compute it.
        errors = [state.errors[:, n] if plan.prediction[n] else self._no_error(x) for n in range(start)]
        below = x if start == 0 else reps[-1]
        for n in range(start, self.net.num_pcoders):
            if plan.skip_unneeded_work and n == start:
                drive = first_drive  # its input (the image, or frozen reps) never changes
            else:
                drive = self.net.stages[n](below)
            if plan.skip_unneeded_work and plan.frozen[n]:
                rep = drive
            else:
                # One new tensor, updated in place: the same sum, in the same order, as
                # beta * ff + memory * rep + lam * prd - alpha * grd.
                w = weights[n]
                rep = drive * _scale(w.beta, drive)
                rep.addcmul_(state.reps[n], _scale(w.memory, drive))
                if plan.feedback[n]:
                    feedback = state.predictions[n + 1]
                    if feedback_source is not None:
                        feedback = feedback.index_select(0, feedback_source)
                    rep.addcmul_(feedback, _scale(w.lam, drive))
                if plan.gradient[n]:
                    rep.addcmul_(state.gradients[n], _scale(w.alpha, drive), value=-1)
            predict, with_gradient = plan.runs_at_last_step(n) if last else (plan.prediction[n], plan.gradient[n])
            if predict:
                prediction, error, gradient = self._predict(n, rep, below, with_gradient)
            else:
                prediction, error, gradient = None, self._no_error(rep), None
            reps.append(rep)
            predictions.append(prediction)
            gradients.append(gradient)
            errors.append(error)
            below = rep
        return DynamicsState(state.t + 1, tuple(reps), tuple(predictions), tuple(gradients), torch.stack(errors, 1))

    def trajectory(
        self,
        x: torch.Tensor,
        timesteps: int,
        coefficients: Coefficients,
        initial: DynamicsState,
        *,
        diagnostics: bool = True,
        feedback_source: torch.Tensor | None = None,
    ) -> Iterator[DynamicsState]:
        """The states at t = 1..timesteps that follow the t = 0 state `initial` on input x.

        `feedback_source` [B] int64 (None: every element its own) gives, per batch element, the
        element whose prediction prd_{n+1}(t-1) enters its update (the shuffled-feedback control,
        `pcgc.spec.controls`); only the feedback term is taken from there, the memory, drive and
        error-gradient terms stay the element's own."""
        self._check(x, timesteps, coefficients, initial)
        if feedback_source is not None:
            check_feedback_source(feedback_source, x.shape[0])
        plan = self.plan(coefficients, diagnostics=diagnostics)
        for n in range(plan.first_active, self.net.num_pcoders):
            if plan.gradient[n] and initial.gradients[n] is None:
                raise ValueError(
                    f"PCoder {n + 1} has alpha > 0 but its error gradient was not computed at t = 0; "
                    "give initial_state a plan that includes it"
                )
            if plan.feedback[n] and initial.predictions[n + 1] is None:
                raise ValueError(
                    f"PCoder {n + 1} has lambda > 0 but the prediction of PCoder {n + 2} was not computed "
                    "at t = 0; give initial_state a plan that includes it"
                )
        weights = self._weights(coefficients, initial.reps[0])
        first_drive = initial.reps[min(plan.first_active, self.net.num_pcoders - 1)]
        state = initial
        for t in range(1, timesteps + 1):
            state = self._timestep(state, x, plan, weights, first_drive, t == timesteps, feedback_source)
            yield state

    def readout(
        self,
        state: DynamicsState,
        *,
        layers: Sequence[int] = (),
        feedforward: torch.Tensor | None = None,
    ) -> Readout:
        """Logits from the top representation, keeping the graph for the CAMs.

        By default the graph starts at the top representation (a leaf): nothing but the head is
        recorded. `layers` (0-based PCoder indices) asks for lower representations too: the
        graph then starts at the lowest of them and runs through this timestep's feedforward path,
        each PCoder m above it contributing `feedforward[:, m] * stage_m` ([B, N] weights, beta
        of the timestep's coefficients; None at t = 0, where rep = ff), with the previous state
        held fixed (pcgc.compute.cam). The forward values are exactly the state's: only the stages above
        the lowest layer are run again, to record their graph. Index N asks for the head layer's
        activation (a network with `head_layer`): the head runs in its two parts.
        """
        top = self.net.num_pcoders - 1
        head_layer = top + 1 in layers
        lowest = min((*(layer for layer in layers if layer != top + 1), top))
        if lowest < 0 or max((*layers, top)) > top + head_layer or (head_layer and self.net.head_layer is None):
            head = f" or the head layer {top + 1}" if self.net.head_layer is not None else ""
            raise ValueError(f"layers must be PCoder indices in 0..{top}{head}, got {list(layers)}")
        with torch.enable_grad():
            rep = state.reps[lowest].detach().requires_grad_(True)
            kept = {lowest: rep}
            for m in range(lowest + 1, top + 1):
                drive = self.net.stages[m](rep)
                weight = 1.0 if feedforward is None else _scale(feedforward[:, m].to(drive.device, torch.promote_types(drive.dtype, torch.float32)), drive)
                # The state's value (drive - drive.detach() is exactly zero) with the derivative
                # of `weight * drive`: the feedback, memory and error terms are constants here.
                rep = state.reps[m].detach() + weight * (drive - drive.detach())
                kept[m] = rep
            if head_layer:
                features, classifier = self.net.head_parts
                kept[top + 1] = features(rep)
                logits = classifier(kept[top + 1])
            else:
                logits = self.net.head(rep)
        return Readout(state.t, rep, logits, state.errors, state, kept)

    def run(
        self,
        x: torch.Tensor,
        timesteps: int,
        coefficients: Coefficients,
        initial: DynamicsState | None = None,
        *,
        diagnostics: bool = True,
        layers: Sequence[int] = (),
    ) -> Iterator[Readout]:
        """Readouts at t = 0, 1, ..., timesteps. `initial` reuses a t = 0 state computed before;
        `layers` are the PCoders (0-based) whose representations the readouts keep in their graph."""
        if initial is None:
            initial = self.initial_state(x, self.plan(coefficients, diagnostics=diagnostics))
        self._check(x, timesteps, coefficients, initial)
        yield self.readout(initial, layers=layers)
        for state in self.trajectory(x, timesteps, coefficients, initial, diagnostics=diagnostics):
            yield self.readout(state, layers=layers, feedforward=coefficients.beta)

    def _check(self, x: torch.Tensor, timesteps: int, coefficients: Coefficients, initial: DynamicsState) -> None:
        if timesteps < 0:
            raise ValueError(f"timesteps must be >= 0, got {timesteps}")
        if initial.t != 0:
            raise ValueError(f"the dynamics start from a t = 0 state, got one at t = {initial.t}")
        expected = (x.shape[0], self.net.num_pcoders)
        if tuple(coefficients.beta.shape) != expected or initial.reps[0].shape[0] != x.shape[0]:
            raise ValueError(
                f"coefficients have shape {tuple(coefficients.beta.shape)} and the t = 0 state "
                f"{initial.reps[0].shape[0]} elements; expected {expected} for this batch"
            )


def check_feedback_source(source: torch.Tensor, batch: int) -> None:
    """A feedback source is a permutation of the batch's elements with no fixed point (no element
    gets its own prediction back); anything else stops the run."""
    if source.dtype != torch.int64 or tuple(source.shape) != (batch,):
        raise ValueError(f"feedback_source must be int64 of shape ({batch},), got {source.dtype} {tuple(source.shape)}")
    positions = torch.arange(batch, device=source.device)
    if not torch.equal(torch.sort(source).values, positions):
        raise ValueError(f"feedback_source must be a permutation of 0..{batch - 1}, got {source.tolist()}")
    if bool((source == positions).any()):
        raise ValueError(f"feedback_source must give no element its own feedback, got {source.tolist()}")


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
