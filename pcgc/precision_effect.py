"""What a reduced precision does to the science: the same images, configuration and timesteps run
in two precisions (`pcgc.precision`), compared in what the analysis reports, not only in the maps.

Per timestep: the mean IoU at each threshold (what Figure 2 and the sweeps average), the mean and
largest change of an image's IoU, the share of images whose thresholded map differs in at least
one pixel, the share of images whose top-1 class differs, and the largest difference of the
target logit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from pcgc.cam import normalize_cam
from pcgc.dynamics import HyperParameters, PCDynamics
from pcgc.engine import Engine, Trajectories
from pcgc.metrics import at_least
from pcgc.scoring import score_maps
from pcgc.scores import iou_scores


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
