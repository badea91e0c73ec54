"""The cost of the mechanism's analyses as multiples of one extraction, measured in CPU seconds.

Runs the engine as `extract` does, on the first `--images` images of the demo's inputs with the
demo's trained `mini` weights (a finished `snakemake` run: results/demo), on one torch thread, and
reports the process CPU time (`time.process_time`, robust to other processes sharing the cores,
unlike wall time) of:

* `extract`: the demo's extraction (config.yaml's cam: six methods on two layers, diagnostics on);
* `gradcam`: Grad-CAM on the top layer only, what a mechanism condition stores;
* `gradcam + recovery`: the same with both recovery references (the clean trajectory in lockstep);
* each control with recovery;
* the four conditions as one `extract_conditions` job runs them, t = 0 shared.

    PYTHONPATH=. python benchmarks/mechanism_cost.py --results results/demo --sigma 0.4 --images 64
    PYTHONPATH=. python benchmarks/mechanism_cost.py --perturbation corruptions/contrast/severity4

`--perturbation` names the perturbed inputs by their label (`sigma{s}` or
`corruptions/{family}/severity{n}`, as under results/demo/inputs/) in place of `--sigma`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import torch
import yaml

from pcgc.compute.cam import CamRequest
from pcgc.compute.controls import condition
from pcgc.compute.engine import Engine
from pcgc.spec.controls import CONTROLS, TRAINED, feedback_partners
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.networks import NETWORKS
from pcgc.storage.network_inputs import NetworkInputs


def cpu_seconds(engine: Engine, *args, **kwargs) -> float:
    start = time.process_time()
    for _ in engine.run(*args, **kwargs):
        pass
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--sigma", default="0.4")
    parser.add_argument("--perturbation", default=None, help="the inputs' label, e.g. corruptions/contrast/severity4 (default: sigma{--sigma})")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    perturbation = args.perturbation or f"sigma{args.sigma}"
    torch.set_num_threads(1)
    config = yaml.safe_load(Path("config.yaml").read_text())
    record = NETWORKS["mini"]
    weights = args.results / "weights"
    network = NetworkInputs(
        args.results / "selection/selection.h5", args.results / f"inputs/{perturbation}.h5",
        weights / record.backbone_file(), tuple(weights / name for name in record.pmodule_files()),
        spec="mini", gradient_scaling=False, precision="fp32", device="cpu",
    )
    targets, dynamics = network.load()
    with h5py.File(network.inputs_h5) as noisy, h5py.File(args.results / "inputs/sigma0.h5") as clean:
        x, x_clean = torch.from_numpy(noisy["inputs"][: args.images]), torch.from_numpy(clean["inputs"][: args.images])
    cam_targets = torch.from_numpy(targets.cam_target[: args.images])
    hps = HyperParameters.from_dict(config["hyperparameters"][config["mechanism"]["hyperparameter_set"]])
    timesteps = config["dynamics"]["timesteps"]
    full = CamRequest.from_config(config["cam"], 5)
    top = CamRequest.from_config({"methods": ["gradcam"], "layers": ["top"]}, 5)
    references = tuple(config["mechanism"]["recovery"])
    partners = feedback_partners(args.images, config["mechanism"]["shuffle_group"], 0)

    def run(name: str, run_dynamics, settings, cams, recovery=(), shuffled=False) -> float:
        total = 0.0
        for start in range(0, args.images, args.batch):
            stop = min(start + args.batch, args.images)
            engine = Engine(run_dynamics, batch_size=stop - start, diagnostics=True, cams=cams, recovery=recovery)
            partner = torch.tensor(partners[start:stop]) - start if shuffled else None
            total += cpu_seconds(
                engine, x[start:stop], cam_targets[start:stop], [settings], timesteps,
                clean=x_clean[start:stop] if recovery else None, feedback_partner=partner,
            )
        print(f"{name:40s} {total:8.2f} CPU s", flush=True)
        return total

    def run_joint(run_dynamics, settings) -> float:
        total = run_conditions_together(run_dynamics, settings, x, x_clean, cam_targets, top, references, partners, args.batch, timesteps)
        print(f"{'4 conditions, t = 0 shared':40s} {total:8.2f} CPU s", flush=True)
        return total

    base = run("extract (config.yaml's cam)", dynamics, hps, full)
    rows = {"gradcam": run("gradcam", dynamics, hps, top)}
    rows["gradcam + recovery"] = run("gradcam + recovery", dynamics, hps, top, references)
    for name in CONTROLS:
        c = condition(name, dynamics, hps, seed=0)
        rows[f"{name} + recovery"] = run(f"{name} + recovery", c.dynamics, c.hyperparameters, top, references, c.shuffled_feedback)
    print(f"\nas multiples of one extraction ({base:.2f} CPU s for {args.images} images of {perturbation}):")
    for name, seconds in rows.items():
        print(f"  {name:38s} {seconds / base:6.2f}")
    branch = rows["gradcam + recovery"] + sum(rows[f"{n} + recovery"] for n in CONTROLS)
    print(f"  {'the 4 conditions, each on its own':38s} {branch / base:6.2f}")
    joint = run_joint(dynamics, hps)
    print(f"  {'the 4 conditions in one job (t = 0 shared)':38s} {joint / base:6.2f}   ({joint / branch:.3f} of them on their own)")


def run_conditions_together(dynamics, hps, x, x_clean, cam_targets, cams, references, partners, batch, timesteps) -> float:
    """CPU seconds of every condition as `extract_conditions` runs them: per image batch one
    shared t = 0 start (`Engine.start`), then each condition's run from it."""
    runs = [condition(name, dynamics, hps, seed=0) for name in (TRAINED, *CONTROLS)]
    start_time = time.process_time()
    for start in range(0, x.shape[0], batch):
        stop = min(start + batch, x.shape[0])
        shared = None
        for c in runs:
            engine = Engine(c.dynamics, batch_size=stop - start, diagnostics=True, cams=cams, recovery=references)
            if shared is None:
                shared = engine.start(x[start:stop], cam_targets[start:stop], x_clean[start:stop])
            partner = torch.tensor(partners[start:stop]) - start if c.shuffled_feedback else None
            for _ in engine.run(
                shared.x, shared.targets, [c.hyperparameters], timesteps, clean=shared.clean, feedback_partner=partner, start=shared
            ):
                pass
    return time.process_time() - start_time


if __name__ == "__main__":
    main()
