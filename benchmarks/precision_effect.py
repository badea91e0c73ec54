"""The effect of a reduced precision on the science of a finished run: every image of one
extraction (hyperparameter set, noise level) rerun in fp32 and in the other precision with the
run's own weights, inputs and settings, compared in mean IoU per timestep, thresholded maps,
top-1 classes and target logits (benchmarks.precision_effect).

    python benchmarks/precision_effect.py --results results/demo --hps hps_0 --sigma 0 --other bf16

It first checks that its fp32 run reproduces the stored extraction file's maps, so that the
comparison is about the run the figures were drawn from.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np
import pandas as pd
import torch

from pcgc.analysis.metrics import at_least, score_maps
from pcgc.compute.cam import normalize_cam
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine, Trajectories
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import iou_scores
from pcgc.storage.network_inputs import load_dynamics, resolve_device


@dataclass(frozen=True)
class PrecisionEffect:
    """Reference precision vs `other`, per timestep t = 0..T (arrays [T+1], or [thresholds, T+1])."""

    reference: str
    other: str
    thresholds: tuple[float, ...]
    mean_iou_reference: np.ndarray
    mean_iou_other: np.ndarray
    image_iou_difference_mean: np.ndarray
    """Mean over images of |IoU other - IoU reference|."""
    image_iou_difference_max: np.ndarray
    changed_maps: np.ndarray
    """Share of images whose map thresholded at each threshold differs anywhere."""
    changed_top1: np.ndarray
    target_logit_difference: np.ndarray
    """Largest |difference| of the target logit over the images."""

    @property
    def largest_mean_iou_difference(self) -> float:
        return float(np.abs(self.mean_iou_other - self.mean_iou_reference).max())

    def rows(self) -> list[dict]:
        """One row per threshold and timestep, for printing or a table."""
        out = []
        for k, threshold in enumerate(self.thresholds):
            for t in range(self.mean_iou_reference.shape[1]):
                out.append(
                    {
                        "threshold": threshold,
                        "timestep": t,
                        f"mean_iou_{self.reference}": self.mean_iou_reference[k, t],
                        f"mean_iou_{self.other}": self.mean_iou_other[k, t],
                        "image_iou_difference_mean": self.image_iou_difference_mean[k, t],
                        "image_iou_difference_max": self.image_iou_difference_max[k, t],
                        "changed_maps": self.changed_maps[k, t],
                        "changed_top1": self.changed_top1[t],
                        "target_logit_difference": self.target_logit_difference[t],
                    }
                )
        return out


def _run(
    dynamics: PCDynamics, precision: str, x: torch.Tensor, targets: torch.Tensor, hps: HyperParameters,
    timesteps: int, batch_size: int,
) -> Trajectories:
    engine = Engine(dynamics, batch_size=batch_size, diagnostics=False, precision=precision)
    blocks = []
    for start in range(0, x.shape[0], batch_size):
        (block,) = engine.run(x[start : start + batch_size], targets[start : start + batch_size], [hps], timesteps)
        blocks.append(block)
    return Trajectories.concatenate(blocks)


def compare_precisions(
    dynamics: PCDynamics,
    x: torch.Tensor,
    targets: torch.Tensor,
    mask_ids: torch.Tensor,
    class_id: torch.Tensor,
    hps: HyperParameters,
    timesteps: int,
    thresholds: Sequence[float],
    *,
    other: str,
    reference: str = "fp32",
    batch_size: int = 16,
) -> PrecisionEffect:
    """Run images `x` (with Grad-CAM `targets`, masks `mask_ids` and object ids `class_id`, all on
    the network's device) in both precisions and compare what the analysis reports."""
    runs = {p: _run(dynamics, p, x, targets, hps, timesteps, batch_size) for p in (reference, other)}
    scores = iou_scores(thresholds)
    iou = {p: score_maps(r.cam_raw, mask_ids, class_id, scores).cpu().numpy() for p, r in runs.items()}
    size = tuple(mask_ids.shape[-2:])
    maps = {p: normalize_cam(r.cam_raw, size) for p, r in runs.items()}
    changed = []
    for t in thresholds:
        level = at_least(t, maps[reference].dtype).to(maps[reference].device)
        differs = (maps[reference] >= level) != (maps[other] >= level)
        changed.append(differs.flatten(2).any(2).double().mean(0).cpu().numpy())
    first, second = runs[reference], runs[other]
    per_image = np.abs(iou[other] - iou[reference])
    return PrecisionEffect(
        reference=reference,
        other=other,
        thresholds=tuple(float(t) for t in thresholds),
        mean_iou_reference=np.nanmean(iou[reference], axis=1),
        mean_iou_other=np.nanmean(iou[other], axis=1),
        image_iou_difference_mean=np.nanmean(per_image, axis=1),
        image_iou_difference_max=np.nanmax(per_image, axis=1),
        changed_maps=np.stack(changed),
        changed_top1=(first.top1 != second.top1).double().mean(0).cpu().numpy(),
        target_logit_difference=(first.target_logit - second.target_logit).abs().max(0).values.cpu().numpy(),
    )


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
    hps = HyperParameters.from_dict(attrs["hyperparameters"])
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
