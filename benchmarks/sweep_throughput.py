"""Throughput of a Figure 3-style sweep (one PCoder active at a time over a beta x lambda grid),
three ways in one run, on the same device, weights (default-initialised) and inputs:

1. the sweep engine (`pcgc.compute.engine.Engine`): t = 0 once for every configuration, only the work each
   configuration needs, configurations x images stacked into device batches, IoU on the device;
2. each configuration alone through the `extract` stage, as a hyperparameter set runs (its own
   t = 0 and job, every PCoder's prediction error recorded, maps written to HDF5);
3. each configuration alone computing everything at every step (every stage, predictor and error
   gradient, t = 0 per configuration), as Predify runs.

It prints configuration-image-timesteps per second (t = 0..T each count), the ratios of 1 to 2 and
3, and the cost model's prediction for this grid and for the paper's (benchmarks.costmodel):

    python benchmarks/sweep_throughput.py --spec pvgg16 --images 2 --timesteps 2 --device cpu
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from costmodel import CostModel
from reference_cam import grad_cam

from pcgc.analysis.metrics import score_maps
from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.networks import build_network
from pcgc.spec.metrics import iou_scores
from pcgc.spec.networks import NETWORKS, pmodule_filename
from pcgc.spec.sweeps import sweep_cells, unique_configurations
from pcgc.stages.extract import extract
from pcgc.storage.checkpoints import save_network_weights
from pcgc.storage.h5io import STRING, write_json_attrs
from pcgc.storage.network_inputs import NetworkInputs, resolve_device

# Two cells per PCoder with lambda > 0 (the cost model's Figure 3 case): a weak and a strong feedback.
GRID = {"kind": "single_pcoder", "beta": [0.4, 0.8], "lambda": [0.2, 0.5], "alpha": 0.01}  # every PCoder of the network
PAPER_GRID = dict(GRID, beta={"start": 0, "stop": 1, "step": 0.1}, **{"lambda": {"start": 0, "stop": 1, "step": 0.1}})


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stage_files(folder: Path, net, x: np.ndarray, targets: np.ndarray) -> tuple[Path, Path]:
    """selection.h5 and inputs.h5 as the workflow writes them, for the extract stage."""
    ids = np.asarray([f"synthetic_{i:04d}" for i in range(len(x))], dtype=object)
    selection, inputs = folder / "selection.h5", folder / "inputs.h5"
    with h5py.File(selection, "w") as h5:
        h5.create_dataset("image_id", data=ids, dtype=STRING)
        h5.create_dataset("cam_target", data=targets)
        write_json_attrs(h5, {"num_classifier_classes": net.num_classes, "selection": {"cam_target": "imagenet_s"}})
    with h5py.File(inputs, "w") as h5:
        h5.create_dataset("inputs", data=x)
        h5.create_dataset("image_id", data=ids, dtype=STRING)
        write_json_attrs(h5, {"noise": {"sigma": 0.0}, "geometry": {"crop": x.shape[-1]}})
    return selection, inputs


def run_engine(dynamics, x, targets, masks, classes, settings, timesteps, batch_size) -> None:
    engine = Engine(dynamics, batch_size=batch_size, diagnostics=False)
    for block in engine.run(x, targets, settings, timesteps):
        score_maps(block.cam_raw, masks[block.image], classes[block.image], iou_scores([0.5])).cpu()


def run_everything(net, x, targets, settings, timesteps) -> None:
    dynamics = PCDynamics(net, skip_unneeded_work=False)
    for hps in settings:
        for readout in dynamics.run(x, timesteps, Coefficients.broadcast(hps, x.shape[0])):
            grad_cam(readout, targets).raw.cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="pvgg16", choices=sorted(NETWORKS))
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="device batch rows (default: the images)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = resolve_device(args.device)
    num_classes = NETWORKS[args.spec].num_classes or 6  # a fixed head, else the demo world's six classes
    torch.manual_seed(0)
    net = build_network(args.spec, num_classes).to(device)
    has_feedback = [p.has_feedback for p in net.pcoders]
    grid = {**GRID, "pcoders": list(range(1, net.num_pcoders + 1))}
    configurations = unique_configurations(sweep_cells(grid, has_feedback))
    settings = [c for c in configurations]
    rng = np.random.default_rng(0)
    size, count, steps = net.input_size, args.images, args.timesteps
    x_host = rng.standard_normal((count, 3, size, size), dtype=np.float32)
    targets_host = rng.integers(0, num_classes, count)
    x, targets = torch.from_numpy(x_host).to(device), torch.from_numpy(targets_host).to(device)
    masks = torch.zeros((count, size, size), dtype=torch.int32, device=device)
    masks[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    classes = torch.ones(count, dtype=torch.int32, device=device)
    work = len(settings) * count * (steps + 1)

    rates, seconds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        backbone = folder / "backbone.pth"
        pmodules = [folder / pmodule_filename("bench", n) for n in range(1, net.num_pcoders + 1)]
        save_network_weights(net, backbone, pmodules)
        selection, inputs = stage_files(folder, net, x_host, targets_host)

        def extract_each() -> None:
            for k, hps in enumerate(settings):
                extract(
                    NetworkInputs(selection, inputs, backbone, tuple(pmodules), args.spec, False, "fp32", str(device)),
                    hps_name=f"config{k}", hps=hps, timesteps=steps, batch_size=count, out_h5=folder / f"extract{k}.h5",
                )

        ways = {
            "sweep engine": lambda: run_engine(
                PCDynamics(net), x, targets, masks, classes, settings, steps, args.batch_size or count
            ),
            "each configuration through extract": extract_each,
            "each configuration, everything every step": lambda: run_everything(net, x, targets, settings, steps),
        }
        run_engine(PCDynamics(net), x[:1], targets[:1], masks[:1], classes[:1], settings[:1], 1, 1)  # warm-up
        for name, run in ways.items():
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            seconds[name] = time.perf_counter() - start
            rates[name] = work / seconds[name]

    model = CostModel.of(net)
    plans = [PCDynamics(net).plan(Coefficients.broadcast(s, 1), diagnostics=False) for s in settings]
    everything_plans = [PCDynamics(net, skip_unneeded_work=False).plan(Coefficients.broadcast(s, 1)) for s in settings]
    engine_gmacs = model.sweep(plans, steps, shared_t0=True)
    everything_gmacs = model.sweep(everything_plans, steps, shared_t0=False)
    paper = unique_configurations(sweep_cells({**PAPER_GRID, "pcoders": grid["pcoders"]}, has_feedback))
    paper_plans = [PCDynamics(net).plan(Coefficients.broadcast(c, 1), diagnostics=False) for c in paper]
    paper_everything = [PCDynamics(net, skip_unneeded_work=False).plan(Coefficients.broadcast(c, 1)) for c in paper]

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; spec {args.spec} at {size} x {size}, fp32; {len(settings)} configurations "
          f"(PCoders 1-{net.num_pcoders} x beta {GRID['beta']} x lambda {GRID['lambda']}, alpha {GRID['alpha']}), "
          f"{count} images, T = {steps}")
    for way, rate in rates.items():
        flops = (engine_gmacs if way == "sweep engine" else everything_gmacs) * count * 2e9 / seconds[way]
        achieved = f", {flops / 1e12:.2f} TFLOP/s of the cost model's work" if way != "each configuration through extract" else ""
        print(f"  {way:45s} {rate:8.3f} configuration-image-timesteps/s ({seconds[way]:.1f} s{achieved})")
    engine = rates["sweep engine"]
    print(f"ratio sweep engine / extract:                  {engine / rates['each configuration through extract']:.2f}")
    print(f"ratio sweep engine / everything every step:    {engine / rates['each configuration, everything every step']:.2f}"
          f"   (cost model for this grid and T: {everything_gmacs / engine_gmacs:.2f})")
    print(f"cost model, the paper's Figure 3 grid ({len(paper)} configurations), T = 10: "
          f"{sum(model.step(p) for p in paper_everything) / sum(model.step(p) for p in paper_plans):.2f} per timestep, "
          f"{model.sweep(paper_everything, 10, shared_t0=False) / model.sweep(paper_plans, 10, shared_t0=True):.2f} with t = 0 shared")


if __name__ == "__main__":
    main()
