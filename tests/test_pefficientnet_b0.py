"""PEfficientNet-B0 in pcgc equals Predify's mechanics written the straightforward way
(`benchmarks/pefficientnet_reference.py`): forward hooks on a plain timm `efficientnet_b0` with its
own predictors built from Predify's table of the network (docs/networks.md), errors and Grad-CAMs
by autograd.

Both run the same random weights (seeded: timm's default initialisation and PyTorch's default for
the predictors, copied from pcgc's network into the reference) on 224 x 224 inputs. The measure is
the largest absolute difference of a tensor relative to the reference tensor's largest absolute
value, max |pcgc - reference| / max |reference|, per quantity and timestep (each PCoder's
representation and prediction error on its own); the bound is 1e-5. Measured: up to
2.3e-6 for the maps, 1.8e-6 for the target logit, 5e-7 for the representations and the logits,
2e-7 for the errors. Relative, because random weights make the top of the network tiny (logits of
the order of 1e-4, raw maps of 1e-6): an absolute bound of 1e-5 would pass anything there.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import pytest
import torch

timm = pytest.importorskip("timm")  # the `timm` extra, which the test extra installs

from benchmarks.pefficientnet_reference import PCODERS, ReferencePEfficientNetB0, Step, relative_difference
from pcgc.compute.cam import CamRequest
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import NETWORKS

ROOT = Path(__file__).resolve().parents[1]
RECORD = NETWORKS["pefficientnet_b0"]
N = RECORD.num_pcoders
T = 3
BOUND = 1e-5
TOP, HEAD = N - 1, N  # CAM layer indices (pcgc.spec.layers): the top PCoder, the head layer
REQUEST = CamRequest(("gradcam",), (TOP, HEAD), N)

# Every PCoder active in each. `predify` is Predify's own experiments' set (0.8 / 0.1 / 0.01): its
# feedback moves the top representation by several times its size within three steps, but its
# error term is tiny without PCoderN's scaling (the error is a mean over ~1e5 elements). `feedback`
# has large lambdas and an alpha large enough that the error gradient moves every PCoder's
# representation by about 1-10 % of its size (test_the_comparison_exercises_feedback_and_the_error_gradient),
# with a different value at every PCoder, so that a coefficient read for the wrong PCoder shows.
SETS = {
    "predify": RECORD.hyperparameters["predify"],
    "feedback": HyperParameters(
        beta=(0.3, 0.35, 0.4, 0.3, 0.25, 0.3, 0.35, 0.5),
        lam=(0.5, 0.45, 0.4, 0.5, 0.55, 0.45, 0.4, 0.3),
        alpha=(60.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0, 200.0),
    ),
}
# (hyperparameter set, gradient_scaling): Predify's set with PCoderN's scaling makes its alpha count.
CASES = [("predify", False), ("feedback", False), ("predify", True)]


def without(hps: HyperParameters, coefficient: str) -> HyperParameters:
    """The same set with `coefficient` ("lam" or "alpha") zero at every PCoder."""
    values = {"beta": hps.beta, "lam": hps.lam, "alpha": hps.alpha}
    values[coefficient] = (0.0,) * N
    return HyperParameters(**values)


@functools.cache
def network() -> PredictiveCodingNetwork:
    torch.manual_seed(0)
    return build_network("pefficientnet_b0", 1000).requires_grad_(False)


@functools.cache
def images() -> tuple[torch.Tensor, torch.Tensor]:
    """Three images (normalised-input scale) and their Grad-CAM classes."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 3, RECORD.input_size, RECORD.input_size, generator=generator)
    return x, torch.tensor([3, 517, 999])


@functools.cache
def reference(gradient_scaling: bool) -> ReferencePEfficientNetB0:
    return ReferencePEfficientNetB0.from_state_dict(network().state_dict(), gradient_scaling=gradient_scaling)


@functools.cache
def reference_run(name: str, gradient_scaling: bool, variant: str = "") -> list[Step]:
    """The reference on image 0 alone; `variant` "no lam" / "no alpha" zeroes that coefficient."""
    hps = SETS[name] if not variant else without(SETS[name], variant.removeprefix("no "))
    x, targets = images()
    return reference(gradient_scaling).run(x[:1], targets[:1], hps, T)


class RecordingDynamics(PCDynamics):
    """pcgc's dynamics, keeping what each readout the engine takes holds: the state's
    representations and the whole logits (the engine itself returns only the target logit)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.readouts: list[tuple[tuple[torch.Tensor, ...], torch.Tensor]] = []

    def readout(self, state, **kwargs):
        readout = super().readout(state, **kwargs)
        self.readouts.append((readout.state.reps, readout.logits.detach()))
        return readout


def pcgc_run(name: str, gradient_scaling: bool, rows: tuple[int, ...] = (0,)) -> list[dict[str, torch.Tensor]]:
    """pcgc's engine, as `extract` runs it (every prediction error recorded), on images `rows`:
    per timestep, every PCoder's representation, the logits, the target logit, the prediction
    errors and Grad-CAM on the top PCoder and on the head layer."""
    return _pcgc_run(name, gradient_scaling, rows)


@functools.cache
def _pcgc_run(name: str, gradient_scaling: bool, rows: tuple[int, ...]) -> list[dict[str, torch.Tensor]]:
    x, targets = images()
    x, targets = x[list(rows)], targets[list(rows)]
    dynamics = RecordingDynamics(network(), gradient_scaling=gradient_scaling)
    engine = Engine(dynamics, batch_size=len(rows), diagnostics=True, cams=REQUEST)
    (block,) = engine.run(x, targets, [SETS[name]], T)
    assert len(dynamics.readouts) == T + 1 and block.configuration.tolist() == [0] * len(rows)
    return [
        {
            "reps": reps,
            "logits": logits,
            "target_logit": block.target_logit[:, t],
            "errors": block.prediction_error[:, t],
            "gradcam_top": block.cams[("gradcam", f"pcoder{N}")][:, t],
            "gradcam_head": block.cams[("gradcam", "head")][:, t],
        }
        for t, (reps, logits) in enumerate(dynamics.readouts)
    ]


def differences(ours: list[dict[str, object]], theirs: list[Step], row: int = 0) -> dict[str, list[float]]:
    """Per quantity, the relative difference at each timestep (pcgc's batch row `row` against a
    reference run of one image)."""
    found: dict[str, list[float]] = {}
    for step, reference_step in zip(ours, theirs, strict=True):
        for n in range(N):
            found.setdefault(f"rep{n + 1}", []).append(relative_difference(step["reps"][n][row : row + 1], reference_step.reps[n]))
        for quantity in ("logits", "gradcam_top", "gradcam_head"):
            found.setdefault(quantity, []).append(relative_difference(step[quantity][row : row + 1], getattr(reference_step, quantity)))
        for n in range(N):  # each PCoder's error relative to itself: they span orders of magnitude
            found.setdefault(f"error{n + 1}", []).append(relative_difference(step["errors"][row : row + 1, n], reference_step.errors[:, n]))
        target = images()[1][row]
        found.setdefault("target logit", []).append(relative_difference(step["target_logit"][row : row + 1], reference_step.logits[:, target]))
    return found


def report(found: dict[str, list[float]]) -> str:
    return "\n".join(f"{name}: " + " ".join(f"{value:.1e}" for value in values) for name, values in found.items())


# ----------------------------------------------------------------------------- equal to Predify


@pytest.mark.parametrize(("name", "gradient_scaling"), CASES, ids=[f"{n}{'-scaled' if s else ''}" for n, s in CASES])
def test_equals_the_straightforward_reference_at_batch_size_one(name, gradient_scaling):
    """Every PCoder's representation, the logits, the target logit, the prediction errors and
    Grad-CAM on the top PCoder and on the head layer, t = 0..3: pcgc's engine agrees with the
    reference within 1e-5 of each tensor's largest absolute value."""
    found = differences(pcgc_run(name, gradient_scaling), reference_run(name, gradient_scaling))
    assert max(max(values) for values in found.values()) <= BOUND, report(found)


def test_the_reference_at_t0_is_timm_efficientnet_b0():
    """The reference's hooks change nothing at t = 0: its logits are those of timm's own model
    with the same weights (the reference checks itself, independently of pcgc)."""
    plain = timm.create_model("efficientnet_b0", pretrained=False, num_classes=1000).eval()
    plain.load_state_dict(reference(False).model.state_dict())
    x, _ = images()
    with torch.no_grad():
        expected = plain(x[:1])
    assert relative_difference(reference_run("predify", False)[0].logits, expected) <= 1e-6


# ----------------------------------------------------------------------------- batch invariance


def test_an_images_trajectory_is_the_same_alone_and_in_a_batch_of_three():
    """Each of three images: its representations at t = 3, its logits, prediction errors and both
    Grad-CAMs at every timestep, in pcgc's engine run alone and in a batch of three, within 1e-5
    of each tensor's largest absolute value (another batch shape may move results in the last
    bits: measured, up to 2e-6 for the maps, 3e-7 for the representations). With the `feedback`
    set the error gradient matters, so a batch-mean error (Predify's, which divides each image's
    gradient by 3) would fail."""
    batch = pcgc_run("feedback", False, (0, 1, 2))
    for row in range(3):
        alone = pcgc_run("feedback", False, (row,))
        found: dict[str, list[float]] = {}
        for together, single in zip(batch, alone, strict=True):
            for quantity in ("logits", "target_logit", "gradcam_top", "gradcam_head"):
                found.setdefault(quantity, []).append(relative_difference(together[quantity][row : row + 1], single[quantity]))
            for n in range(N):
                found.setdefault(f"error{n + 1}", []).append(relative_difference(together["errors"][row : row + 1, n], single["errors"][:, n]))
        for n in range(N):
            found[f"rep{n + 1} at t = {T}"] = [relative_difference(batch[-1]["reps"][n][row : row + 1], alone[-1]["reps"][n])]
        assert max(max(values) for values in found.values()) <= BOUND, f"image {row}:\n{report(found)}"


# ----------------------------------------------------------------------------- the test has teeth


@pytest.mark.parametrize(("name", "gradient_scaling", "coefficient"), [("predify", False, "lam"), ("feedback", False, "lam"), ("feedback", False, "alpha"), ("predify", True, "alpha")])
def test_the_comparison_exercises_feedback_and_the_error_gradient(name, gradient_scaling, coefficient):
    """Zeroing lambda (or alpha) at every PCoder moves the top representation, the logits and both
    Grad-CAMs at t = 3 by at least 100 times the agreement bound: the agreement above is not that
    of two feedforward passes."""
    full, zeroed = reference_run(name, gradient_scaling)[-1], reference_run(name, gradient_scaling, f"no {coefficient}")[-1]
    moved = {
        "top rep": relative_difference(full.reps[-1], zeroed.reps[-1]),
        "logits": relative_difference(full.logits, zeroed.logits),
        "gradcam_top": relative_difference(full.gradcam_top, zeroed.gradcam_top),
        "gradcam_head": relative_difference(full.gradcam_head, zeroed.gradcam_head),
    }
    assert min(moved.values()) >= 100 * BOUND, moved


def test_a_predictor_of_the_wrong_layout_does_not_load_into_the_reference():
    """The reference loads pcgc's predictors strictly into its own, built from Predify's table:
    a predictor without its upsampling (keys `0.*` instead of `1.*`) or with the wrong channels
    stops it."""
    state = network().state_dict()
    moved = {k.replace("pmodules.2.1.", "pmodules.2.0."): v for k, v in state.items()}
    with pytest.raises(RuntimeError, match="Missing key"):
        ReferencePEfficientNetB0.from_state_dict(moved)
    wrong = dict(state)
    wrong["pmodules.5.0.weight"] = torch.zeros(112, 40, 3, 3)
    with pytest.raises(RuntimeError, match="size mismatch"):
        ReferencePEfficientNetB0.from_state_dict(wrong)


@pytest.mark.parametrize("pcoder", [1, 5])
def test_a_predictor_built_wrong_is_detected(pcoder):
    """A predictor with the right weights but another upsampling (nearest instead of Predify's
    bilinear) makes the comparison above fail by far more than the bound, in the representation
    of the PCoder it belongs to: PCoder 1's through its error gradient, PCoder 5's through its
    feedback to PCoder 4 as well. With random weights a perturbation of a low PCoder is damped on
    its way up (PCoder 1's moves the maps by ~1e-6 only), which is why every PCoder's
    representation is compared, not only the maps and the logits."""
    assert PCODERS[pcoder - 1][3], "a PCoder with an upsampling"
    wrong = ReferencePEfficientNetB0.from_state_dict(network().state_dict())
    wrong.pmodules[pcoder - 1][0].mode = "nearest"
    x, targets = images()
    found = differences(pcgc_run("feedback", False), wrong.run(x[:1], targets[:1], SETS["feedback"], T))
    assert max(found[f"rep{pcoder}"]) > 100 * BOUND and max(found[f"error{pcoder}"]) > 100 * BOUND, report(found)


# ----------------------------------------------------------------------------- the benchmark


@pytest.mark.slow
def test_the_benchmark_runs_and_agrees():
    """`python benchmarks/pefficientnet_reference.py` on a small problem prints the speed ratio and
    differences within the bound."""
    result = subprocess.run(
        [sys.executable, "benchmarks/pefficientnet_reference.py", "--device", "cpu", "--batch", "2", "--timesteps", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "pcgc is" in result.stdout, result.stdout
    largest = float(result.stdout.rsplit("largest of all:", 1)[1].split()[0])
    assert largest <= BOUND, result.stdout
