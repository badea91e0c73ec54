"""The effect of a reduced precision on the science of a finished run: every image of one
extraction (hyperparameter set, noise level) rerun in fp32 and in the other precision with the
run's own weights, inputs and settings, compared in mean IoU per timestep, thresholded maps,
top-1 classes and target logits (pcgc.precision_effect).

    python benchmarks/precision_effect.py --results results/demo --hps hps_0 --sigma 0 --other bf16

It first checks that its fp32 run reproduces the stored extraction file's maps, so that the
comparison is about the run the figures were drawn from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from pcgc.dynamics import HyperParameters
from pcgc.engine import Engine
from pcgc.precision_effect import compare_precisions
from pcgc.stages.network import load_dynamics, resolve_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--hps", default="hps_0")
    parser.add_argument("--sigma", default="0", help="the noise level's label, as in the file names")
    parser.add_argument("--other", default="bf16", choices=["bf16", "tf32"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    extraction = args.results / f"extract/{args.hps}/sigma{args.sigma}.h5"
    with h5py.File(extraction, "r") as h5:
        attrs = {k: json.loads(v) for k, v in h5.attrs.items()}
        stored = torch.from_numpy(h5[f"cams/gradcam/pcoder{len(attrs['model']['pcoders'])}"][:])
    config = attrs["config"]
    thresholds = (config["scores"] if "scores" in config else config["iou"])["thresholds"]  # older files: iou
    weights = [Path(p) for p in attrs["weights"]]
    device = resolve_device(args.device)
    with h5py.File(args.results / "selection/selection.h5", "r") as h5:
        masks = torch.from_numpy(h5["mask_ids"][:].astype(np.int32)).to(device)
        class_id = torch.from_numpy(h5["class_id"][:]).to(device)
        targets = torch.from_numpy(h5["cam_target"][:]).to(device)
        num_classes = json.loads(h5.attrs["num_classifier_classes"])
    with h5py.File(args.results / f"inputs/sigma{args.sigma}.h5", "r") as h5:
        x = torch.from_numpy(h5["inputs"][:]).to(device)
    dynamics = load_dynamics(
        attrs["model"]["name"], num_classes, weights[0], weights[1:], gradient_scaling=attrs["gradient_scaling"], device=device
    )
    hps = HyperParameters.from_config(attrs["hyperparameters"])
    timesteps = attrs["timesteps"]

    # The fp32 rerun must be the stored run (to float32 round-off), or the comparison is moot.
    (check,) = Engine(dynamics, batch_size=args.batch_size, diagnostics=True).run(
        x[: args.batch_size], targets[: args.batch_size], [hps], timesteps
    )
    deviation = float((check.cam_raw.cpu() - stored[: args.batch_size]).abs().max() / stored.abs().max())
    print(f"{extraction}: {len(x)} images, t = 0..{timesteps}; fp32 rerun vs stored maps: {deviation:.1e} (relative)")
    if deviation > 1e-4:
        raise SystemExit(f"{extraction}: the fp32 rerun does not reproduce the stored maps ({deviation:.1e}); rerun the workflow first")

    effect = compare_precisions(
        dynamics, x, targets, masks, class_id, hps, timesteps, thresholds, other=args.other, batch_size=args.batch_size
    )
    with pd.option_context("display.width", 200, "display.precision", 4):
        print(pd.DataFrame(effect.rows()).to_string(index=False))
    print(
        f"largest |mean IoU {args.other} - fp32| over timesteps and thresholds: {effect.largest_mean_iou_difference:.4f}; "
        f"an image's IoU changed by {effect.image_iou_difference_mean.mean():.4f} on average, at most "
        f"{effect.image_iou_difference_max.max():.4f}; "
        f"images whose thresholded map changed: {effect.changed_maps.min():.1%} to {effect.changed_maps.max():.1%} per timestep; "
        f"top-1 changed: up to {effect.changed_top1.max():.1%}"
    )


if __name__ == "__main__":
    main()
