"""The work of a configuration's sweeps by the cost model (benchmarks.costmodel), and the time it takes at
a given sustained rate: what a sweep costs before running it.

    python benchmarks/sweep_cost.py config/paper.yaml --tflops 0.15 40

For each sweep and noise level: configurations, chunks of `extraction.chunk_size` (t = 0 is computed
once per chunk and image), PFLOP as the sweep engine computes them and as computing everything at
every step would; then the total time at each rate given (TFLOP/s, e.g. measured with
benchmarks/sweep_throughput.py).
"""

from __future__ import annotations

import argparse
import math

import torch
import yaml
from costmodel import CostModel

from pcgc.compute.dynamics import Coefficients, PCDynamics
from pcgc.compute.networks import build_network
from pcgc.spec.config import validate_config
from pcgc.spec.networks import NETWORKS
from pcgc.spec.sweeps import sweep_cells, unique_configurations


def flop(value: float) -> str:
    for unit, scale in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12)):
        if value >= scale:
            return f"{value / scale:,.2f} {unit}"
    return f"{value / 1e9:,.2f} GFLOP"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--tflops", type=float, nargs="+", default=[], help="sustained rates to convert to time")
    args = parser.parse_args()
    with open(args.config) as handle:
        config = validate_config(yaml.safe_load(handle))
    spec = config["model"]["spec"]
    with torch.device("meta"):  # shapes are all a cost model needs
        net = build_network(spec, NETWORKS[spec].num_classes or config["demo"]["num_classes"])
    size = config["selection"]["crop"]
    model = CostModel.of(net, size)
    dynamics, everything = PCDynamics(net), PCDynamics(net, skip_unneeded_work=False)
    timesteps, chunk_size = config["dynamics"]["timesteps"], config["extraction"]["chunk_size"]
    images = config["selection"]["n_images"]
    total_engine = total_everything = 0.0
    print(f"{spec} at {size} x {size}, T = {timesteps}, chunks of {chunk_size} configurations")
    for name, sweep in config["sweeps"].items():
        configurations = unique_configurations(sweep_cells(sweep, [p.has_feedback for p in net.pcoders]))
        settings = [Coefficients.broadcast(c, 1) for c in configurations]
        plans = [dynamics.plan(s, diagnostics=False) for s in settings]
        naive = [everything.plan(s) for s in settings]
        count = images if sweep["n_images"] == "all" else sweep["n_images"]
        engine_gmacs = sum(
            model.sweep(plans[k : k + chunk_size], timesteps, shared_t0=True) for k in range(0, len(plans), chunk_size)
        )
        naive_gmacs = model.sweep(naive, timesteps, shared_t0=False)
        levels = len(sweep["sigmas"])
        engine_flop, naive_flop = (2e9 * g * count * levels for g in (engine_gmacs, naive_gmacs))
        total_engine, total_everything = total_engine + engine_flop, total_everything + naive_flop
        print(
            f"  {name}: {len(configurations)} configurations x {levels} noise levels x {count} images, "
            f"{math.ceil(len(configurations) / chunk_size) * levels} chunks: {flop(engine_flop)} "
            f"(everything every step: {flop(naive_flop)}, {naive_flop / engine_flop:.2f}x)"
        )
    print(f"total: {flop(total_engine)} (everything every step: {flop(total_everything)})")
    for rate in args.tflops:
        hours = total_engine / (rate * 1e12) / 3600
        print(f"  at {rate:g} TFLOP/s sustained: {hours:,.2f} h ({hours / 24:,.2f} days)")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
