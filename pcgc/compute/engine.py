"""The engine behind `extract` and the sweeps: dynamics and CAMs for many configurations of
the coefficients over one batch of images, without any file I/O.

Which maps are computed is a `pcgc.compute.cam.CamRequest` (methods x layers; Grad-CAM on the top
representation by default, all a sweep computes). Only a request with a lower layer makes the
readouts record the graph of the stages above it (`PCDynamics.readout`), so the default costs
nothing more than one backward pass through the head per timestep.

For a batch of images the t = 0 state (the plain feedforward pass), its CAMs and its logits
are computed once and shared by every configuration (t = 0 does not depend on the coefficients).
Configurations are then grouped by the work they need (`WorkPlan.signature`: which PCoders are
frozen, which predictors and gradients run) and stacked, configuration x image, into device
batches of `batch_size` rows.

The part of t = 0 that the predictors do not enter (the backbone's pass on the perturbed and the
clean images, the CAMs, logits and classes read from it: a `Start`) can also be shared by several
runs, of engines whose networks share the backbone, as the controls of the mechanism do
(`Engine.start`, `run(start=...)`): only each run's predictors then run at t = 0, and every number
is what the run computes on its own.

Every device batch has the same shape, whatever the number of configurations: the last batch of a
group is padded with copies of its last configuration (and the padding dropped). Kernels may pick
a different algorithm for a different batch shape, which changes results in the last bits; with a
fixed shape each row's numbers do not depend on which configurations share its batch, so the way
configurations are split into jobs (a sweep's chunks) changes no number.

Representation recovery (`recovery`, opt-in; `pcgc.compute.recovery`): given the clean original
of each perturbed image, the clean trajectory of every device batch runs in lockstep beside the
perturbed one (same configurations, same rows, same coefficients), and per row, PCoder and
timestep the correlation distance between the two representations is kept; no representation is
stored beyond the one timestep both trajectories hold anyway. The clean rows are a batch of their
own rather than stacked under the perturbed ones: a stacked batch has another shape, and kernels
then round differently (measured on CPU: CAMs moved by up to 1.2e-5 relative), whereas this way
the perturbed rows' numbers are bit-identical with recovery on or off, on any device. The CAMs are
taken on the perturbed rows only. When the clean input is the perturbed one (sigma = 0) its own
trajectory is the clean one, and nothing more runs.

The shuffled-feedback control (`feedback_partner`) gives each image of the image batch another
image whose prediction it receives as feedback; the same partner in every configuration's block of
rows (and in the clean rows among themselves), so it does not depend on how configurations share a
device batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Collection, Iterator, Sequence

import torch

from pcgc.compute.cam import CamRequest, compute_cams
from pcgc.compute.dynamics import Coefficients, DynamicsState, PCDynamics, Readout, check_feedback_source
from pcgc.compute.precision import check_precision, computing_in
from pcgc.compute.recovery import RECOVERY_REFERENCES, distances
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.layers import layer_name


@dataclass(frozen=True)
class Trajectories:
    """Per row (one configuration on one image), every timestep t = 0..T, on the engine's device."""

    configuration: torch.Tensor
    """[R] int64: index into the configurations given to `Engine.run`."""
    image: torch.Tensor
    """[R] int64: index into the image batch."""
    cams: dict[tuple[str, str], torch.Tensor]
    """(method, layer) -> [R, T+1, h, w] raw map (before the ReLU), for every map requested."""
    target_logit: torch.Tensor
    """[R, T+1] logit of the CAM target class."""
    top1: torch.Tensor
    """[R, T+1] int64 predicted class."""
    prediction_error: torch.Tensor
    """[R, T+1, N] per-image error of each PCoder's prediction (NaN where it was not computed)."""
    representation_change: torch.Tensor
    """[R, T+1] ||r_t - r_{t-1}|| / ||r_{t-1}|| of the top representation r, per row; NaN at t = 0."""
    recovery: dict[str, torch.Tensor] = field(default_factory=dict)
    """reference -> [R, T+1, N] correlation distance d_n(t) of each PCoder's representation to the
    clean run's (`pcgc.compute.recovery`): `same_t` (clean at t) and `clean_t0` (clean at t = 0),
    those the engine was asked for; empty without recovery."""

    @classmethod
    def concatenate(cls, blocks: Sequence["Trajectories"]) -> "Trajectories":
        """The rows of several blocks (of one engine) as one block, in order."""
        if not blocks:
            raise ValueError("no blocks to concatenate")
        tensors = {
            name: torch.cat([getattr(b, name) for b in blocks])
            for name in cls.__dataclass_fields__
            if name not in ("cams", "recovery")
        }
        cams = {key: torch.cat([b.cams[key] for b in blocks]) for key in blocks[0].cams}
        recovery = {key: torch.cat([b.recovery[key] for b in blocks]) for key in blocks[0].recovery}
        return cls(cams=cams, recovery=recovery, **tensors)

    @property
    def top_layer(self) -> str:
        """The name of the top representation's layer (`pcoder{N}`)."""
        count = self.prediction_error.shape[-1]
        return layer_name(count - 1, count)

    @property
    def cam_raw(self) -> torch.Tensor:
        """[R, T+1, h, w] Grad-CAM on the top representation (the paper's map)."""
        key = ("gradcam", self.top_layer)
        if key not in self.cams:
            raise KeyError(f"Grad-CAM on {self.top_layer} was not computed; the maps are {sorted(self.cams)}")
        return self.cams[key]


@dataclass(frozen=True)
class _Timestep:
    cams: dict[tuple[str, str], torch.Tensor]
    target_logit: torch.Tensor
    top1: torch.Tensor
    errors: torch.Tensor
    change: torch.Tensor
    """[B] relative change of the top representation since the previous timestep (NaN at t = 0)."""

    @classmethod
    def of(cls, readout: Readout, targets: torch.Tensor, request: CamRequest, previous: torch.Tensor | None) -> "_Timestep":
        maps = compute_cams(readout, targets, request)
        top = readout.state.reps[-1].detach()
        if previous is None:
            change = torch.full((top.shape[0],), torch.nan, device=top.device)
        else:
            before = previous.float().flatten(1)
            change = (top.float().flatten(1) - before).norm(dim=1) / before.norm(dim=1)
        # Results in float32 whatever the precision they were computed in.
        return cls(
            {key: raw.float() for key, raw in maps.raw.items()},
            maps.score.float(),
            readout.logits.detach().argmax(1),
            readout.errors.float(),
            change,
        )

    def select(self, index: torch.Tensor) -> "_Timestep":
        return _Timestep(
            {key: raw.index_select(0, index) for key, raw in self.cams.items()},
            *(getattr(self, name).index_select(0, index) for name in ("target_logit", "top1", "errors", "change")),
        )


@dataclass(frozen=True, eq=False)
class Start:
    """The part of an image batch's t = 0 that no predictor enters (`Engine.start`): shared by the
    runs of every engine with the same backbone, CAM request and precision."""

    x: torch.Tensor
    targets: torch.Tensor
    clean: torch.Tensor | None
    feedforward: tuple[torch.Tensor, ...]
    """Every PCoder's t = 0 representation of x (`PCDynamics.feedforward`)."""
    clean_feedforward: tuple[torch.Tensor, ...] | None
    """The same of the clean inputs; None without them, or when they are x itself."""
    first: _Timestep
    """The t = 0 maps, logits and classes; its errors are placeholders (each run's predictors')."""
    made_for: tuple
    """`Engine._start_key` of the engine that made it."""


def _backbone_key(net: torch.nn.Module) -> tuple[int, ...]:
    """The backbone's tensors by identity: a control's network shares them, not copies."""
    return tuple(id(t) for t in (*net.backbone.parameters(), *net.backbone.buffers()))


class Engine:
    """Runs configurations x images through the dynamics, with the CAMs of `cams` (default:
    Grad-CAM on the top representation) at every timestep.

    `batch_size` is the number of rows (configuration-image pairs) per device batch; an image batch
    of B images holds `max(1, batch_size // B)` configurations. `diagnostics=True` computes every
    PCoder's prediction error at every step (at the price of running every predictor); without it
    only the predictors the dynamics need run. `precision` is one of `pcgc.compute.precision.PRECISIONS`.
    `recovery` names the references of the representation-recovery distances to compute (any of
    `RECOVERY_REFERENCES`; empty: none), for which `run` needs the clean inputs.
    """

    def __init__(
        self,
        dynamics: PCDynamics,
        *,
        batch_size: int,
        diagnostics: bool,
        precision: str = "fp32",
        cams: CamRequest | None = None,
        recovery: Sequence[str] = (),
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        unknown = [r for r in recovery if r not in RECOVERY_REFERENCES]
        if unknown or len(set(recovery)) != len(recovery):
            raise ValueError(f"recovery: {list(recovery)} must be distinct names from {list(RECOVERY_REFERENCES)}")
        self.recovery = tuple(recovery)
        self.dynamics = dynamics
        self.batch_size = batch_size
        self.diagnostics = diagnostics
        self.device = next(dynamics.net.parameters()).device
        check_precision(precision, self.device)
        self.precision = precision
        net = dynamics.net
        self.cams = CamRequest.default(net.num_pcoders) if cams is None else cams
        if self.cams.num_pcoders != net.num_pcoders:
            raise ValueError(f"the CAM request is for a network of {self.cams.num_pcoders} PCoders; {net.name} has {net.num_pcoders}")
        if net.head_layer is None and net.num_pcoders in self.cams.layers:
            raise ValueError(f"a CAM on the head layer was asked for, but {net.name}'s head has no convolutional layer")
        top = net.num_pcoders - 1
        # Lower layers need the graph of the stages above them, the head layer the head's in two
        # parts; the top one only the head's.
        self._graph_layers = tuple(layer for layer in self.cams.layers if layer != top)
        # Who may share a Start: the same backbone's numbers, the same maps, the same precision.
        self._start_key = (_backbone_key(net), self.cams, precision)

    def configurations_per_batch(self, images: int) -> int:
        return max(1, self.batch_size // images)

    def _plans(self, configurations: Sequence[HyperParameters]) -> list:
        return [self.dynamics.plan(Coefficients.broadcast(c, 1), diagnostics=self.diagnostics) for c in configurations]

    def _blocks(self, plans: Sequence, images: int) -> list[list[int]]:
        per_batch = self.configurations_per_batch(images)
        groups: dict[tuple, list[int]] = {}
        for k, plan in enumerate(plans):
            groups.setdefault(plan.signature(), []).append(k)
        return [members[start : start + per_batch] for members in groups.values() for start in range(0, len(members), per_batch)]

    def blocks(self, configurations: Sequence[HyperParameters], images: int) -> list[list[int]]:
        """The configurations (indices) of each device batch `run` yields for `images` images, in
        its order: what a resumed job needs to know which batches it still lacks."""
        return self._blocks(self._plans(configurations), images)

    def start(self, x: torch.Tensor, targets: torch.Tensor, clean: torch.Tensor | None = None) -> Start:
        """The predictor-free part of t = 0 on the image batch `x` (and its `clean` originals):
        what `run(..., start=...)` of this engine, or of another with the same backbone, CAM
        request and precision, takes instead of computing it again."""
        if targets.shape != (x.shape[0],):
            raise ValueError(f"need one Grad-CAM target per image: got shape {tuple(targets.shape)} for {x.shape[0]} images")
        if clean is not None and clean.shape != x.shape:
            raise ValueError(f"clean inputs of shape {tuple(clean.shape)} for perturbed inputs of shape {tuple(x.shape)}")
        dynamics = self.dynamics
        # sigma = 0: the perturbed run is the clean run, so its own trajectory is reused.
        separate_clean = clean is not None and not torch.equal(clean, x)
        with computing_in(self.precision, self.device):
            feedforward = dynamics.feedforward(x)
            bare = DynamicsState(
                0, feedforward, (None,) * len(feedforward), (None,) * len(feedforward),
                torch.full((x.shape[0], len(feedforward)), torch.nan, device=x.device),
            )
            first = _Timestep.of(dynamics.readout(bare, layers=self._graph_layers), targets, self.cams, None)
            # Its own pass, as the perturbed one: t = 0 is exactly what it is without recovery.
            clean_feedforward = dynamics.feedforward(clean) if separate_clean else None
        return Start(x, targets, clean, feedforward, clean_feedforward, first, self._start_key)

    def run(
        self,
        x: torch.Tensor,
        targets: torch.Tensor,
        configurations: Sequence[HyperParameters],
        timesteps: int,
        only: Collection[int] | None = None,
        *,
        clean: torch.Tensor | None = None,
        feedback_partner: torch.Tensor | None = None,
        start: Start | None = None,
    ) -> Iterator[Trajectories]:
        """Trajectories of every configuration on every image of `x`, one device batch at a time.

        `x` [B, C, H, W] is the image batch and `targets` [B] the Grad-CAM class of each image,
        both on the device the network is on. `only` (indices into `blocks`) runs just those device
        batches; each batch's numbers are the same whether or not the others run.
        `clean` [B, C, H, W], the clean originals of `x`, is required exactly when the engine
        computes `recovery`. `feedback_partner` [B] (a permutation of the images without fixed
        point) runs the shuffled-feedback control: image i receives image feedback_partner[i]'s
        prediction, in every configuration. `start` (`Engine.start` on these very x, targets and
        clean, by an engine with the same backbone, maps and precision) is used instead of
        computing the predictor-free part of t = 0 again; the numbers are the same either way.
        """
        if not configurations:
            raise ValueError("no configurations to run")
        if bool(self.recovery) != (clean is not None):
            raise ValueError(
                f"the clean inputs are needed exactly when recovery is computed: recovery={list(self.recovery)}, "
                f"clean {'given' if clean is not None else 'not given'}"
            )
        if start is None:
            start = self.start(x, targets, clean)
        elif start.x is not x or start.targets is not targets or start.clean is not clean:
            raise ValueError("a shared t = 0 start must be of the very inputs, targets and clean inputs of the run")
        elif start.made_for != self._start_key:
            raise ValueError(
                "a shared t = 0 start must come from an engine with the same backbone tensors, CAM request and precision"
            )
        dynamics = self.dynamics
        images = x.shape[0]
        if feedback_partner is not None:
            if images < 2:
                raise ValueError("shuffled feedback needs at least 2 images in an image batch: one image has no other to take feedback from")
            check_feedback_source(feedback_partner, images)
        separate_clean = start.clean_feedforward is not None
        plans = self._plans(configurations)
        shared_plan = plans[0]
        for plan in plans[1:]:
            shared_plan = shared_plan.union(plan)
        with computing_in(self.precision, self.device):
            # Only the predictors run here: the backbone's part of t = 0 is the start's.
            initial = dynamics.initial_state(x, shared_plan, start.feedforward)
            clean_initial = None
            if separate_clean:
                clean_initial = dynamics.initial_state(clean, shared_plan, start.clean_feedforward)
        first = replace(start.first, errors=initial.errors.float())

        per_batch = self.configurations_per_batch(images)
        # Every device batch holds `per_batch` configurations on all images: the same rows of x,
        # the targets and the t = 0 state for each, gathered once.
        image_index = torch.arange(images, device=x.device).repeat(per_batch)
        if per_batch == 1:  # one configuration per batch: the rows are the images, no copy
            x_rows, target_rows, initial_rows, first_rows = x, targets, initial, first
            clean_rows, clean_initial_rows = clean, clean_initial
        else:
            x_rows, target_rows = x.index_select(0, image_index), targets.index_select(0, image_index)
            initial_rows, first_rows = initial.select(image_index), first.select(image_index)
            if separate_clean:
                clean_rows, clean_initial_rows = clean.index_select(0, image_index), clean_initial.select(image_index)
        clean_t0 = clean_initial_rows if separate_clean else initial_rows
        first_recovery = self._recovery(initial_rows, clean_t0 if separate_clean else None, clean_t0)
        source = None
        if feedback_partner is not None:
            # The same partner within every configuration's block of `images` rows.
            offsets = torch.arange(per_batch, device=x.device).repeat_interleave(images) * images
            source = offsets + feedback_partner.to(x.device).repeat(per_batch)
        first_groups: dict[tuple, _Timestep] = {}
        for index, block in enumerate(self._blocks(plans, images)):
            if only is not None and index not in only:
                continue
            # A t = 0 error is reported where the block's own plan computes it, whatever else the
            # shared t = 0 state computed for other blocks.
            own = plans[block[0]].prediction
            if own not in first_groups:
                mask = torch.tensor(own, device=x.device)
                first_groups[own] = replace(first_rows, errors=torch.where(mask, first_rows.errors, torch.nan))
            first_group = first_groups[own]
            padded = block + [block[-1]] * (per_batch - len(block))
            coefficients = Coefficients.stack([configurations[k] for k in padded for _ in range(images)])
            with computing_in(self.precision, self.device):
                steps = [first_group]
                recovery = [first_recovery]
                states = dynamics.trajectory(
                    x_rows, timesteps, coefficients, initial_rows, diagnostics=self.diagnostics, feedback_source=source
                )
                # The clean trajectory in lockstep: each clean state is used and dropped in the
                # same iteration as the perturbed state of the same t.
                clean_states = (
                    dynamics.trajectory(
                        clean_rows, timesteps, coefficients, clean_initial_rows, diagnostics=self.diagnostics,
                        feedback_source=source,
                    )
                    if separate_clean
                    else iter(lambda: None, 0)  # an endless None: the clean run is this run
                )
                previous = initial_rows.reps[-1]
                for state, clean_state in zip(states, clean_states):
                    readout = dynamics.readout(state, layers=self._graph_layers, feedforward=coefficients.beta)
                    steps.append(_Timestep.of(readout, target_rows, self.cams, previous))
                    previous = state.reps[-1]
                    if self.recovery:
                        recovery.append(self._recovery(state, clean_state, clean_t0))
            rows = len(block) * images  # the padding is dropped
            yield Trajectories(
                configuration=torch.tensor(block, device=x.device).repeat_interleave(images),
                image=image_index[:rows],
                cams={key: torch.stack([s.cams[key][:rows] for s in steps], 1) for key in first.cams},
                target_logit=torch.stack([s.target_logit[:rows] for s in steps], 1),
                top1=torch.stack([s.top1[:rows] for s in steps], 1),
                prediction_error=torch.stack([s.errors[:rows] for s in steps], 1),
                representation_change=torch.stack([s.change[:rows] for s in steps], 1),
                recovery={key: torch.stack([r[key][:rows] for r in recovery], 1) for key in self.recovery},
            )

    def _recovery(
        self, state: DynamicsState, same_t: DynamicsState | None, clean_t0: DynamicsState
    ) -> dict[str, torch.Tensor]:
        """reference -> [rows, N] distances of `state` to the clean state at the same t (`same_t`;
        None: the clean run is this run, so d = 0 exactly) and to the clean t = 0 state."""
        references = {}
        if "same_t" in self.recovery and same_t is not None:
            references["same_t"] = same_t.reps
        if "clean_t0" in self.recovery:
            references["clean_t0"] = clean_t0.reps
        out = distances(state.reps, references) if references else {}
        if "same_t" in self.recovery and same_t is None:
            out["same_t"] = torch.zeros(state.errors.shape, dtype=torch.float32, device=state.errors.device)
        return {name: out[name] for name in self.recovery}

