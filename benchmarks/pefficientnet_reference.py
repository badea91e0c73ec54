"""PEfficientNet-B0 written the straightforward way, as Predify's own code does it, to check pcgc
against and to time it against (docs/networks.md, "A worked example: PEfficientNet-B0").

The reference is independent of pcgc's builder and dynamics: a plain `timm.create_model(
"efficientnet_b0")` with forward hooks on `bn1` (Predify hooked `act1`; since timm 0.9 `bn1` is a
BatchNormAct2d whose output is that activation) and on `blocks[0]` .. `blocks[6]`, each hook
replacing the module's output with its PCoder's updated representation, and its own eight
predictors built from Predify's table of the network (`PCODERS` below; docs/networks.md). At every PCoder and timestep it
predicts, measures the error and takes the error's gradient by autograd, as Predify does; Grad-CAM
is taken by autograd from the target logit, on the top PCoder's representation (`blocks[6]`) and on
the head's convolutional activation (`conv_head` -> `bn2`, read by a hook that changes nothing).

Two deliberate differences from Predify's code, both those of pcgc (docs/predictive-coding.md):
the error is the mean over each image's own elements (Predify's `mse_loss` averages over the
batch; the two are the same at batch size 1), and with `gradient_scaling` (Predify's PCoderN) the
factor is the element count of one image's prediction over sqrt(C).

pcgc's network is used for one thing only: its state dict (`backbone.*`, `pmodules.{n}.*`) is
copied into the reference's timm model and predictors (`ReferencePEfficientNetB0.from_state_dict`),
so that both run the same weights.

As a benchmark, it times pcgc's engine against the reference in one run, on the same weights
(default-initialised, seeded) and inputs, with Grad-CAM on the top PCoder and the head layer at
every timestep, and prints the speed ratio and how far apart the two implementations' maps, logits
and representations are:

    python benchmarks/pefficientnet_reference.py --device cpu
    python benchmarks/pefficientnet_reference.py --device cpu --batch 8 --timesteps 10 --hyperparameters predify
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Mapping

import timm
import torch
from torch import nn

# Predify's table of the network (its `peffficientnetb0_shared.py`, docs/networks.md): the hooked module, the PCoder's
# channels, the channels of what it predicts (the input image for PCoder 1), whether a bilinear x2
# upsampling comes before the 3 x 3 transposed convolution, and whether it receives feedback.
PCODERS: tuple[tuple[str, int, int, bool, bool], ...] = (
    ("bn1", 32, 3, True, True),
    ("blocks.0", 16, 32, False, True),
    ("blocks.1", 24, 16, True, True),
    ("blocks.2", 40, 24, True, True),
    ("blocks.3", 80, 40, True, True),
    ("blocks.4", 112, 80, False, True),
    ("blocks.5", 192, 112, True, True),
    ("blocks.6", 320, 192, False, False),
)
HEAD_MODULE = "bn2"


def reference_predictor(channels: int, below: int, upsample: bool) -> nn.Sequential:
    """One predictor in Predify's layout: [bilinear Upsample x2,] ConvTranspose2d(channels, below, 3, 1, 1)
    (keys `0.*`, or `1.*` behind the upsampling, as in Predify's checkpoints)."""
    layers: list[nn.Module] = [nn.Upsample(scale_factor=(2.0, 2.0), mode="bilinear")] if upsample else []
    layers.append(nn.ConvTranspose2d(channels, below, kernel_size=3, stride=1, padding=1))
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class Coefficients:
    """beta, lambda, alpha per PCoder (bottom to top), plain floats as Predify's multipliers."""

    beta: tuple[float, ...]
    lam: tuple[float, ...]
    alpha: tuple[float, ...]

    @classmethod
    def of(cls, hps) -> "Coefficients":
        """From anything with `beta`, `lam`, `alpha` sequences (pcgc's HyperParameters included)."""
        return cls(tuple(map(float, hps.beta)), tuple(map(float, hps.lam)), tuple(map(float, hps.alpha)))


@dataclass(frozen=True)
class Step:
    """What the reference computed at one timestep, detached, batch first."""

    t: int
    reps: tuple[torch.Tensor, ...]
    """Every PCoder's representation after this timestep's update."""
    errors: torch.Tensor
    """[B, 8] per-image prediction error of each PCoder at this timestep."""
    logits: torch.Tensor
    gradcam_top: torch.Tensor
    """[B, 7, 7] raw Grad-CAM (before any ReLU) on the top PCoder's representation."""
    gradcam_head: torch.Tensor
    """[B, 7, 7] raw Grad-CAM on the head's convolutional activation (bn2's output)."""


def gradcam(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """Grad-CAM's raw map, sum_c (mean_hw dS/dA_c) A_c (Selvaraju et al. 2017, before the ReLU)."""
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    return (weights * activation).sum(dim=1)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: the largest difference relative to the reference tensor's scale."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max())


class ReferencePEfficientNetB0:
    """Predify's PEfficientNet-B0 on timm's model, with hooks (default-initialised weights until
    `from_state_dict` copies others in)."""

    def __init__(self, *, gradient_scaling: bool = False) -> None:
        self.model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=1000)
        self.pmodules = nn.ModuleList(reference_predictor(channels, below, upsample) for _, channels, below, upsample, _ in PCODERS)
        # As Predify's PNetSeparateHP: no in-place operation may overwrite a held representation.
        for module in self.model.modules():
            if hasattr(module, "inplace"):
                module.inplace = False
        self.model.eval().requires_grad_(False)
        self.pmodules.eval().requires_grad_(False)
        self.gradient_scaling = gradient_scaling
        self._scale: list[float | None] = [None] * len(PCODERS)
        modules = dict(self.model.named_modules())
        for n, (name, *_rest) in enumerate(PCODERS):
            modules[name].register_forward_hook(self._pcoder_hook(n))
        modules[HEAD_MODULE].register_forward_hook(self._head_hook)
        self._reset()

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor], **kwargs) -> "ReferencePEfficientNetB0":
        """The reference with the weights of a pcgc PredictiveCodingNetwork's state dict (keys
        `backbone.*` and `pmodules.{n}.*`), loaded strictly."""
        reference = cls(**kwargs)
        backbone = {k.removeprefix("backbone."): v for k, v in state_dict.items() if k.startswith("backbone.")}
        reference.model.load_state_dict(backbone, strict=True)
        for n, pmodule in enumerate(reference.pmodules):
            prefix = f"pmodules.{n}."
            pmodule.load_state_dict({k.removeprefix(prefix): v for k, v in state_dict.items() if k.startswith(prefix)}, strict=True)
        return reference

    def to(self, device: torch.device | str) -> "ReferencePEfficientNetB0":
        self.model.to(device)
        self.pmodules.to(device)
        return self

    # -- the PCoders ----------------------------------------------------------------------------

    def _reset(self) -> None:
        count = len(PCODERS)
        self.rep: list[torch.Tensor | None] = [None] * count
        self.prd: list[torch.Tensor | None] = [None] * count
        self.grd: list[torch.Tensor | None] = [None] * count
        self.err: list[torch.Tensor | None] = [None] * count
        self.input: torch.Tensor | None = None
        self.top: torch.Tensor | None = None
        self.head: torch.Tensor | None = None

    def error_scale(self, n: int, rep: torch.Tensor) -> float:
        """PCoderN's factor for PCoder n: elements of one image's prediction / sqrt(C), C the
        number of prediction elements a central representation element reaches (Predify measures
        it with the Jacobian of the prediction of a zero representation holding one value c at
        its middle channel, row and column, at c = 1)."""
        if self._scale[n] is None:
            pmodule = self.pmodules[n]
            _, channels, height, width = rep.shape

            def predict(c: torch.Tensor) -> torch.Tensor:
                single = torch.zeros((1, channels, height, width), dtype=rep.dtype, device=rep.device)
                single[0, channels // 2, height // 2, width // 2] = c[0]
                return pmodule(single)

            with torch.enable_grad():
                # One input value: forward mode gives the whole Jacobian in one pass.
                jacobian = torch.autograd.functional.jacobian(
                    predict, torch.ones(1, dtype=rep.dtype, device=rep.device), strategy="forward-mode", vectorize=True
                )
            count = int((jacobian != 0).sum())
            numel = pmodule(rep[:1]).numel()
            self._scale[n] = numel / count**0.5
        return self._scale[n]

    def _pcoder_hook(self, n: int):
        has_feedback = PCODERS[n][4]

        def hook(module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
            ff = output.detach()
            b, l, a = self.coefficients.beta[n], self.coefficients.lam[n], self.coefficients.alpha[n]
            if self.rep[n] is None:  # t = 0: the feedforward drive
                rep = ff
            else:
                gradient = self.grd[n]
                if self.gradient_scaling:
                    gradient = gradient * self.error_scale(n, self.rep[n])
                if has_feedback:
                    rep = b * ff + l * self.prd[n + 1] + (1 - b - l) * self.rep[n] - a * gradient
                else:
                    rep = b * ff + (1 - b) * self.rep[n] - a * gradient
            target = self.input if n == 0 else self.rep[n - 1]
            with torch.enable_grad():
                rep = rep.detach().requires_grad_(True)
                prd = self.pmodules[n](rep)
                per_image = ((prd - target) ** 2).flatten(1).mean(1)
                # Images are independent: the gradient of the sum is each image's own gradient.
                (grd,) = torch.autograd.grad(per_image.sum(), rep)
            self.rep[n], self.prd[n], self.grd[n], self.err[n] = rep.detach(), prd.detach(), grd, per_image.detach()
            if n == len(PCODERS) - 1:  # the top PCoder: the graph to the logits starts here
                self.top = self.rep[n].clone().requires_grad_(True)
                return self.top
            return self.rep[n]

        return hook

    def _head_hook(self, module: nn.Module, inputs, output: torch.Tensor) -> None:
        self.head = output

    # -- a trajectory ---------------------------------------------------------------------------

    def run(self, x: torch.Tensor, targets: torch.Tensor, hps, timesteps: int) -> list[Step]:
        """t = 0..timesteps on images x [B, 3, H, W], Grad-CAM of class `targets` [B]; `hps` has
        per-PCoder `beta`, `lam`, `alpha` (pcgc's HyperParameters will do)."""
        self._reset()
        self.coefficients = Coefficients.of(hps)
        self.input = x
        steps = []
        for t in range(timesteps + 1):
            with torch.enable_grad():  # the parameters need no gradient: only the head's graph is built
                logits = self.model(x)
            score = logits.gather(1, targets.view(-1, 1)).sum()
            top_gradient, head_gradient = torch.autograd.grad(score, [self.top, self.head])
            steps.append(
                Step(
                    t=t,
                    reps=tuple(self.rep),
                    errors=torch.stack(self.err, 1),
                    logits=logits.detach(),
                    gradcam_top=gradcam(self.top.detach(), top_gradient),
                    gradcam_head=gradcam(self.head.detach(), head_gradient),
                )
            )
        return steps


# ------------------------------------------------------------------------------ the benchmark


def main() -> None:
    from pcgc.compute.cam import CamRequest
    from pcgc.compute.dynamics import Coefficients as PcgcCoefficients
    from pcgc.compute.dynamics import PCDynamics
    from pcgc.compute.engine import Engine
    from pcgc.compute.networks import build_network
    from pcgc.spec.networks import NETWORKS
    from pcgc.storage.network_inputs import resolve_device

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8, help="images")
    parser.add_argument("--timesteps", type=int, default=10, help="T: timesteps t = 0..T")
    parser.add_argument("--hyperparameters", default="predify", help="a named set of the network's record")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, interleaved (the fastest counts), after one untimed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = resolve_device(args.device)
    record = NETWORKS["pefficientnet_b0"]
    hps = record.hyperparameters[args.hyperparameters]
    torch.manual_seed(args.seed)
    net = build_network("pefficientnet_b0", 1000).to(device).requires_grad_(False)
    reference = ReferencePEfficientNetB0.from_state_dict(net.state_dict()).to(device)
    x = torch.randn(args.batch, 3, record.input_size, record.input_size, device=device)
    targets = torch.randint(0, 1000, (args.batch,), device=device)
    top = record.num_pcoders - 1
    request = CamRequest(("gradcam",), (top, record.num_pcoders), record.num_pcoders)
    engine = Engine(PCDynamics(net), batch_size=args.batch, diagnostics=True, cams=request)
    T, image_timesteps = args.timesteps, args.batch * (args.timesteps + 1)

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def run_reference():
        return reference.run(x, targets, hps, T)

    def run_engine():
        (block,) = engine.run(x, targets, [hps], T)
        return block

    def timed(function) -> tuple[float, object]:
        synchronize()
        start = time.perf_counter()
        result = function()
        synchronize()
        return time.perf_counter() - start, result

    # One untimed run of each (allocations, kernel choices), then `repeats` runs of each,
    # interleaved so that a change in the machine's load affects both alike; the fastest counts.
    steps, block = run_reference(), run_engine()
    reference_time = engine_time = float("inf")
    for _ in range(args.repeats):
        seconds, steps = timed(run_reference)
        reference_time = min(reference_time, seconds)
        seconds, block = timed(run_engine)
        engine_time = min(engine_time, seconds)
    reference_top = torch.stack([s.gradcam_top for s in steps], 1)
    reference_head = torch.stack([s.gradcam_head for s in steps], 1)
    reference_logit = torch.stack([s.logits.gather(1, targets.view(-1, 1)).squeeze(1) for s in steps], 1)
    differences = {
        "Grad-CAM, top": relative_difference(block.cams[("gradcam", f"pcoder{record.num_pcoders}")], reference_top),
        "Grad-CAM, head": relative_difference(block.cams[("gradcam", "head")], reference_head),
        "target logit": relative_difference(block.target_logit, reference_logit),
        # Each PCoder's error relative to its own largest: the errors span orders of magnitude.
        "prediction errors (each PCoder)": max(
            relative_difference(block.prediction_error[..., n], torch.stack([s.errors[:, n] for s in steps], 1))
            for n in range(record.num_pcoders)
        ),
    }
    # The engine keeps no representations: those come from pcgc's dynamics on the same inputs.
    dynamics = PCDynamics(net)
    coefficients = PcgcCoefficients.broadcast(hps, args.batch)
    representation = 0.0
    for readout, step in zip(dynamics.run(x, T, coefficients), steps):
        for ours, theirs in zip(readout.state.reps, step.reps):
            representation = max(representation, relative_difference(ours, theirs))
    differences["representations (each PCoder)"] = representation
    print(
        f"PEfficientNet-B0 on {device} ({torch.get_num_threads()} threads), {args.batch} images x t = 0..{T}, "
        f"hyperparameters {args.hyperparameters!r}, Grad-CAM on the top PCoder and the head layer at every timestep"
    )
    print(
        f"straightforward (hooks on timm's model, autograd): {reference_time:.2f} s, "
        f"{image_timesteps / reference_time:.3f} image-timesteps/s"
    )
    print(
        f"pcgc's engine (prediction errors recorded, as extract): {engine_time:.2f} s, "
        f"{image_timesteps / engine_time:.3f} image-timesteps/s -> pcgc is {reference_time / engine_time:.2f}x"
    )
    print("largest differences, relative to the reference tensor's largest absolute value:")
    for name, value in differences.items():
        print(f"  {name}: {value:.1e}")
    print(f"largest of all: {max(differences.values()):.1e}")


if __name__ == "__main__":
    main()
