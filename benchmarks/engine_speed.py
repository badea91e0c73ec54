"""pcgc's engine against a straightforward Predify-style implementation, in one run, on the same
device, weights (default-initialised, seeded) and inputs, in each precision:

* full dynamics: one hyperparameter set (hps_0), every PCoder active, Grad-CAM of every timestep;
* a sweep: a Figure 3-style grid (one PCoder active at a time), which the straightforward code
  runs one configuration after another, computing everything (its time per configuration does not
  depend on the coefficients, so it is measured on `--reference-configurations` of them and
  scaled to the grid).

The straightforward implementation is what one writes from Predify's code: forward hooks on
torchvision's VGG16 that replace each PCoder's output with its updated representation, the error
gradient by autograd at every PCoder and timestep, Grad-CAM by autograd from the logits. Its error
is per image, as pcgc's, so the two compute the same numbers (checked: the largest difference of
the raw maps, relative to their largest value, is printed).

Rates are image-timesteps per second (t = 0..T each count). FLOP/s are given two ways: "Predify-
equivalent", the cost model's 274.8 GFLOP of one Predify image-timestep (benchmarks.costmodel) times the
rate; and "performed", the FLOP the engine's work plans actually do. With `--peak-tflops` (the
device's peak in the precision run), the performed rate is also given as a fraction of it.
`--compile` runs pcgc's timestep through torch.compile (`extraction.compile`, pcgc.compute.compilation);
every timing follows an untimed run, which compiles.

    python benchmarks/engine_speed.py --device cpu --precisions fp32 bf16
    python benchmarks/engine_speed.py --device cuda --precisions fp32 tf32 bf16 --batch 32 --peak-tflops 67 67 989
"""

from __future__ import annotations

import argparse
import copy
import time
from typing import Callable

import torch
from costmodel import CostModel
from torch import nn

from pcgc.compute.compilation import COMPILE_MODES, check_compile_mode
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.compute.precision import computing_in, prepare_network
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import NETWORKS
from pcgc.spec.sweeps import sweep_cells, unique_configurations
from pcgc.storage.network_inputs import resolve_device

GRID = {"kind": "single_pcoder", "pcoders": [1, 2, 3, 4, 5], "beta": [0.4, 0.8], "lambda": [0.2, 0.5], "alpha": 0.01}


class StraightforwardPVGG:
    """Predify's mechanics on a PredictiveCodingNetwork's backbone, written the plain way."""

    def __init__(self, net: PredictiveCodingNetwork) -> None:
        self.net = net
        modules = dict(net.backbone.named_modules())
        for n, spec in enumerate(net.pcoders):
            modules[spec.module].register_forward_hook(self._hook(n))
        self.hps: HyperParameters | None = None

    def _hook(self, n: int):
        def hook(module: nn.Module, inputs, ff: torch.Tensor) -> torch.Tensor:
            b, l, a = self.hps.beta[n], self.hps.lam[n], self.hps.alpha[n]
            ff = ff.detach()
            if self.rep[n] is None:
                rep = ff
            elif self.net.pcoders[n].has_feedback:
                rep = b * ff + l * self.prd[n + 1] + (1 - b - l) * self.rep[n] - a * self.grd[n]
            else:
                rep = b * ff + (1 - b) * self.rep[n] - a * self.grd[n]
            target = self.input if n == 0 else self.rep[n - 1]
            with torch.enable_grad():
                rep = rep.detach().requires_grad_(True)
                prd = self.net.pmodules[n](rep)
                loss = ((prd - target) ** 2).flatten(1).mean(1).sum()
                (self.grd[n],) = torch.autograd.grad(loss, rep)
            self.rep[n], self.prd[n] = rep.detach(), prd.detach()
            if n == self.net.num_pcoders - 1:  # the Grad-CAM layer
                self.top = self.rep[n].requires_grad_(True)
                return self.top
            return self.rep[n]

        return hook

    def run(self, x: torch.Tensor, targets: torch.Tensor, hps: HyperParameters, timesteps: int) -> torch.Tensor:
        """Raw Grad-CAMs [B, T+1, h, w]."""
        count = self.net.num_pcoders
        self.input, self.hps = x, hps
        self.rep, self.prd, self.grd = [None] * count, [None] * count, [None] * count
        maps = []
        for _ in range(timesteps + 1):
            logits = self.net.backbone(x)
            (gradient,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), self.top)
            maps.append(torch.einsum("bk,bkhw->bhw", gradient.mean((2, 3)), self.top.detach()).float())
        return torch.stack(maps, 1)


def timed(
    function: Callable[[], torch.Tensor], device: torch.device, repeats: int, *, warm_up: bool = True
) -> tuple[float, torch.Tensor]:
    """The fastest of `repeats` runs (after a warm-up run), and the last result."""
    if warm_up:
        function()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best, result


def kernel_rates(net: PredictiveCodingNetwork, images: int, device: torch.device, precisions: list[str]) -> None:
    """TFLOP/s of the convolutions that make up a PVGG16 timestep, alone: each predictor's
    transposed convolution and its adjoint, and each backbone stage, in each precision and memory
    format. The engine cannot be faster, relative to fp32, than these kernels are."""
    below = torch.randn(images, 3, net.input_size, net.input_size, device=device)
    pieces = []
    with torch.no_grad():
        for stage, pmodule in zip(net.stages, net.pmodules):
            rep = stage(below)
            conv = pmodule if isinstance(pmodule, nn.ConvTranspose2d) else pmodule[0]
            pieces.append((f"stage {len(pieces) // 3 + 1}", stage, below))
            pieces.append((f"predictor {len(pieces) // 3 + 1}", conv, rep))
            prediction = conv(rep)
            adjoint = nn.Conv2d(conv.out_channels, conv.in_channels, conv.kernel_size, conv.stride, conv.padding, bias=False)
            adjoint.weight = conv.weight
            pieces.append((f"adjoint {len(pieces) // 3 + 1}", adjoint.to(device), prediction))
            below = rep
    model = CostModel.of(net)
    print("kernel TFLOP/s (contiguous / channels_last):")
    for name, module, x in pieces:
        macs = _module_macs(name, model) * images
        line = []
        for precision in precisions:
            for memory_format in (torch.contiguous_format, torch.channels_last):
                moved = copy.deepcopy(module).to(memory_format=memory_format)
                inputs = x.contiguous(memory_format=memory_format)
                with torch.no_grad(), computing_in(precision, device):
                    seconds, _ = timed(lambda: moved(inputs), device, 2)
                line.append(2 * macs / seconds / 1e3)
            line[-2:] = [f"{line[-2]:.2f} / {line[-1]:.2f}"]
        print(f"  {name:12s} " + "   ".join(f"{p}: {v}" for p, v in zip(precisions, line)))


def _module_macs(name: str, model: CostModel) -> float:
    kind, number = name.split()
    n = int(number) - 1
    return model.stages[n] if kind == "stage" else model.predictors[n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "tf32", "bf16"])
    parser.add_argument("--peak-tflops", nargs="+", type=float, help="the device's peak, one per precision")
    parser.add_argument("--batch", type=int, default=4, help="images")
    parser.add_argument("--timesteps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--reference-configurations", type=int, default=2)
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--channels-last", action="store_true", help="both implementations in channels_last memory format")
    parser.add_argument("--kernels", action="store_true", help="also time the convolutions alone, per precision and memory format")
    parser.add_argument("--compile", default="eager", choices=COMPILE_MODES, help="pcgc's timestep through torch.compile")
    args = parser.parse_args()
    if args.peak_tflops and len(args.peak_tflops) != len(args.precisions):
        parser.error("--peak-tflops needs one value per precision")

    device = resolve_device(args.device)
    check_compile_mode(args.compile, device)
    torch.manual_seed(0)
    net = build_network("pvgg16", 1000).to(device).requires_grad_(False)
    x = torch.randn(args.batch, 3, 224, 224, device=device)
    if args.channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 1000, (args.batch,), device=device)
    record = NETWORKS["pvgg16"]
    hps_0 = record.hyperparameters["predify"]  # the paper's hps_0
    # Its own copy of the same weights: its hooks must not fire inside the engine.
    straightforward = StraightforwardPVGG(copy.deepcopy(net))
    dynamics = PCDynamics(net)
    model = CostModel.of(net)
    T, images = args.timesteps, args.batch
    image_timesteps = images * (T + 1)
    predify_gflop = 2 * model.everything()
    plan = dynamics.plan(Coefficients.broadcast(hps_0, 1), diagnostics=True)
    engine_gflop = 2 * model.sweep([plan], T, shared_t0=True) / (T + 1)
    plan = dynamics.plan(Coefficients.broadcast(hps_0, 1), diagnostics=False)
    maps_only_gflop = 2 * model.sweep([plan], T, shared_t0=True) / (T + 1)
    configurations = unique_configurations(sweep_cells(GRID, record.has_feedback))
    settings = [c for c in configurations]
    sweep_plans = [dynamics.plan(Coefficients.broadcast(s, 1), diagnostics=False) for s in settings]
    sweep_gflop = 2 * model.sweep(sweep_plans, T, shared_t0=True) / (T + 1) / len(settings)
    print(
        f"PVGG16 on {device} ({torch.get_num_threads()} threads, pcgc's timestep: {args.compile}), {images} images x t = 0..{T}; "
        f"cost model: {predify_gflop:.1f} GFLOP per image-timestep computing everything, "
        f"{engine_gflop:.1f} in pcgc's plan for hps_0 recording prediction errors, {maps_only_gflop:.1f} for maps only, "
        f"{sweep_gflop:.1f} on average over the "
        f"{len(settings)} configurations of the sweep"
    )

    def engine_full(diagnostics: bool = True) -> torch.Tensor:
        engine = Engine(dynamics, batch_size=images, diagnostics=diagnostics, precision=precision)
        (block,) = engine.run(x, targets, [hps_0], T)
        return block.cam_raw

    def reference_full() -> torch.Tensor:
        with computing_in(precision, device):
            return straightforward.run(x, targets, hps_0, T)

    def engine_sweep() -> torch.Tensor:
        engine = Engine(dynamics, batch_size=images * 4, diagnostics=False, precision=precision)
        return torch.cat([block.cam_raw for block in engine.run(x, targets, settings, T)])

    def reference_sweep() -> torch.Tensor:
        with computing_in(precision, device):
            return torch.cat([straightforward.run(x, targets, s, T) for s in settings[: args.reference_configurations]])

    if args.kernels:
        kernel_rates(net, images, device, args.precisions)
    rates: dict[tuple[str, str], float] = {}
    for k, precision in enumerate(args.precisions):
        # As the workflow's stages load it (pcgc.storage.network_inputs.load_dynamics).
        dynamics = PCDynamics(prepare_network(copy.deepcopy(net), precision), compile_mode=args.compile)
        peak = args.peak_tflops[k] if args.peak_tflops else None
        reference_time, reference_maps = timed(reference_full, device, args.repeats)
        engine_time, engine_maps = timed(engine_full, device, args.repeats)
        difference = float((engine_maps - reference_maps).abs().max() / reference_maps.abs().max())
        reference_rate, engine_rate = image_timesteps / reference_time, image_timesteps / engine_time
        rates[("full", precision)] = engine_rate
        performed = engine_rate * engine_gflop / 1e3
        fraction = f", {performed / peak:.1%} of the {peak:g} TFLOP/s peak" if peak else ""
        print(
            f"[{precision}] full dynamics: straightforward {reference_rate:.3f}, pcgc {engine_rate:.3f} image-timesteps/s "
            f"-> pcgc is {engine_rate / reference_rate:.2f}x; Predify-equivalent {engine_rate * predify_gflop / 1e3:.2f} TFLOP/s, "
            f"performed {performed:.2f} TFLOP/s{fraction}; straightforward performs "
            f"{reference_rate * predify_gflop / 1e3:.2f} TFLOP/s; maps differ by {difference:.1e} (relative)"
        )
        maps_only_time, _ = timed(lambda: engine_full(diagnostics=False), device, args.repeats)
        print(
            f"[{precision}] full dynamics, maps only (no prediction errors recorded, as the sweeps): pcgc "
            f"{image_timesteps / maps_only_time:.3f} image-timesteps/s -> {reference_time / maps_only_time:.2f}x the "
            f"straightforward implementation"
        )
        if args.skip_sweep:
            continue
        # The kernels are warm from the full dynamics; a compiled timestep is not, for the sweep's plans.
        reference_time, _ = timed(reference_sweep, device, 1, warm_up=False)
        engine_time, _ = timed(engine_sweep, device, 1, warm_up=args.compile != "eager")
        reference_rate = args.reference_configurations * image_timesteps / reference_time
        engine_rate = len(settings) * image_timesteps / engine_time
        rates[("sweep", precision)] = engine_rate
        performed = engine_rate * sweep_gflop / 1e3
        fraction = f", {performed / peak:.1%} of peak" if peak else ""
        print(
            f"[{precision}] sweep of {len(settings)} configurations: straightforward {reference_rate:.3f} "
            f"(measured on {args.reference_configurations}), pcgc {engine_rate:.3f} configuration-image-timesteps/s "
            f"-> pcgc is {engine_rate / reference_rate:.2f}x; performed {performed:.2f} TFLOP/s{fraction}"
        )
    if "fp32" in args.precisions:
        for kind in ("full", "sweep"):
            for precision in args.precisions:
                if precision != "fp32" and (kind, precision) in rates:
                    print(f"{kind}: pcgc in {precision} is {rates[(kind, precision)] / rates[(kind, 'fp32')]:.2f}x pcgc in fp32")


if __name__ == "__main__":
    main()
