"""Localisation metrics: how well normalised CAMs ([0, 1] maps) find the object of a mask.

Every metric is a pure, batched function of (maps ``[..., H, W]``, ``foreground`` and ``valid``
bool masks that broadcast against them) on NumPy arrays or torch tensors on any device, and
returns the same kind (float64). `METRICS` is the registry of computations, one per entry of the
catalogue `pcgc.spec.metrics.METRIC_KINDS`; `score_maps` and `score_batch` apply them to raw CAMs
against object masks, on whatever device the maps are on (what the `score` rule, the sweeps and
Figure 1 call).

One policy for undefined values, the same in every metric:

* ``valid`` is False on the mask's ignore pixels: they are removed from the map and the mask
  alike, for every metric (never counted as object, background, mass or maximum).
* An image with no object pixel among its valid ones gets NaN: nothing can be found, so no
  metric may call it a hit (nor a miss). AUROC is also NaN when no valid pixel is background.
* A map that is the same everywhere (after `pcgc.compute.cam.normalize_cam`, a constant raw map is zero
  everywhere) carries no information and scores what a random guess scores: AUROC 0.5, average
  precision and energy share the object's share of the valid pixels, the pointing game the share
  of valid pixels that count as hits; its IoU is 0 at every threshold (nothing is predicted).
* Ties are resolved as a uniformly random order would be on average: the pointing game scores the
  share of the maximal pixels (equal values) that are hits; AUROC counts tied object/background
  pairs as one half; AP and PxAP step through tied pixels together, as scikit-learn does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from pcgc.compute.cam import normalize_cam
from pcgc.data.masks import IGNORE_ID
from pcgc.spec.metrics import METRIC_KINDS, Score

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def _validated_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    values = np.asarray(thresholds, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got {thresholds!r}")
    # A threshold of 0 would mark every valid pixel as predicted, which says nothing about the CAM.
    bad = values[~(np.isfinite(values) & (values > 0) & (values <= 1))]
    if bad.size:
        raise ValueError(f"thresholds must satisfy 0 < t <= 1; offending values: {bad.tolist()}")
    return values


def at_least(level: float, dtype: torch.dtype) -> torch.Tensor:
    """The smallest value of `dtype` that is >= level: `cam >= it` is `cam >= level` exactly, as
    real numbers, without widening the maps (0.7 rounds *down* to float32, for instance)."""
    value = torch.tensor(level, dtype=dtype)
    if float(value) < level:
        value = torch.nextafter(value, torch.tensor(float("inf"), dtype=dtype))
    return value


def _inputs(cam, foreground, valid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Size, bool]:
    """The three arrays as tensors, checked: float maps in [0, 1], bool masks, a shared (H, W) and
    broadcastable leading dimensions. Also returns the broadcast leading shape and whether the
    input was NumPy (results are returned in the same kind)."""
    as_numpy = not isinstance(cam, torch.Tensor)
    cam, foreground, valid = (x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x)) for x in (cam, foreground, valid))
    for name, array in (("cam", cam), ("foreground", foreground), ("valid", valid)):
        if array.ndim < 2:
            raise ValueError(f"{name} must have shape (..., H, W), got shape {tuple(array.shape)}")
    if cam.shape[-2:] != foreground.shape[-2:] or cam.shape[-2:] != valid.shape[-2:]:
        raise ValueError(
            "cam, foreground and valid must share (H, W); got "
            f"{tuple(cam.shape[-2:])}, {tuple(foreground.shape[-2:])}, {tuple(valid.shape[-2:])}"
        )
    try:
        leading = torch.broadcast_shapes(cam.shape[:-2], foreground.shape[:-2], valid.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "leading dimensions do not broadcast: cam "
            f"{tuple(cam.shape)}, foreground {tuple(foreground.shape)}, valid {tuple(valid.shape)}"
        ) from None
    if not cam.is_floating_point():
        raise TypeError(f"cam must be a float array, got dtype {cam.dtype}")
    # Masks must already be bool: casting label maps would turn class ids (and the ignore id)
    # into foreground without anyone noticing.
    for name, array in (("foreground", foreground), ("valid", valid)):
        if array.dtype != torch.bool:
            raise TypeError(f"{name} must be a bool array, got dtype {array.dtype}")
    if cam.numel():
        finite = torch.isfinite(cam)
        if not bool(finite.all()):
            raise ValueError(f"cam contains {int((~finite).sum())} non-finite values")
        low, high = float(cam.min()), float(cam.max())
        if low < 0 or high > 1:
            raise ValueError(f"cam must be normalised to [0, 1], got range [{low}, {high}]")

    return cam, foreground, valid, leading, as_numpy


def iou(cam: Array, foreground: Array, valid: Array, thresholds: Sequence[float]) -> Array:
    """IoU between ``cam >= threshold`` and the ground-truth ``foreground``, per image.

    Parameters
    ----------
    cam:
        Float array ``(..., H, W)`` of CAMs already normalised to [0, 1] (NumPy or torch).
    foreground:
        Bool array ``(..., H, W)``: True on the ground-truth object.
    valid:
        Bool array ``(..., H, W)``: False on ignore pixels, which are removed from both the
        predicted and the true region.
    thresholds:
        Values ``t`` with ``0 < t <= 1``; a pixel is predicted when ``cam >= t``.

    The leading dimensions of the three arrays broadcast against each other (e.g. cam
    ``[N, T, H, W]`` with foreground/valid ``[N, 1, H, W]``).

    Returns
    -------
    float64 array (NumPy for NumPy input, else a tensor on cam's device) of shape ``(len(thresholds), *broadcast_leading_shape)``. Where the union is
    empty (no predicted and no true pixel among the valid ones) the IoU is undefined and the
    result is NaN; callers must decide what to do with those entries.
    """
    levels = _validated_thresholds(thresholds)
    cam, foreground, valid, leading, as_numpy = _inputs(cam, foreground, valid)
    return _returned(_iou(cam, foreground, valid, leading, levels.tolist()), as_numpy)


def _iou(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, leading: torch.Size, levels: list[float]) -> torch.Tensor:
    truth = foreground & valid
    result = torch.empty((len(levels), *leading), dtype=torch.float64, device=cam.device)
    for k, level in enumerate(levels):
        # One threshold at a time keeps the peak to a few bool arrays of the broadcast shape.
        predicted = (cam >= at_least(level, cam.dtype)) & valid
        intersection = (predicted & truth).sum(dim=(-2, -1))
        union = (predicted | truth).sum(dim=(-2, -1))
        ratio = intersection.to(torch.float64) / union.clamp(min=1).to(torch.float64)
        result[k] = torch.where(union > 0, ratio, torch.nan)
    return result


def _returned(result: torch.Tensor, as_numpy: bool):
    return result.cpu().numpy() if as_numpy else result


def _sums(x: torch.Tensor) -> torch.Tensor:
    return x.sum(dim=(-2, -1), dtype=torch.float64)


def energy_pointing(cam: Array, foreground: Array, valid: Array) -> Array:
    """Energy-based pointing game (Wang et al., Score-CAM, CVPR-W 2020): the share of the map's
    mass (sum of its values over the valid pixels) that lies on the object. In [0, 1]; NaN where
    the object has no valid pixel; a map of zero mass scores the object's share of the valid
    pixels (as a uniform map would). Shape: the broadcast leading shape."""
    cam, foreground, valid, leading, as_numpy = _inputs(cam, foreground, valid)
    return _returned(_energy(cam, foreground, valid, leading), as_numpy)


def _energy(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, leading: torch.Size) -> torch.Tensor:
    truth = foreground & valid
    mass = _sums(cam * valid)
    inside = _sums(cam * truth)
    # Areas on the masks' own shape, broadcast afterwards.
    area, covered = _sums(valid), _sums(truth)
    share = torch.where(mass > 0, inside / mass.clamp(min=torch.finfo(torch.float64).tiny), covered / area.clamp(min=1))
    return torch.where(covered > 0, share, torch.nan).expand(leading)


def _validated_tolerances(tolerances: Sequence[float]) -> list[float]:
    values = list(tolerances)
    if not values:
        raise ValueError("pointing-game tolerances must be a non-empty sequence")
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (np.isfinite(v) and v >= 0)]
    if bad:
        raise ValueError(f"pointing-game tolerances must be finite numbers >= 0 (pixels); offending values: {bad}")
    return [float(v) for v in values]


def _within(truth: torch.Tensor, tolerance: float) -> torch.Tensor:
    """Pixels within Euclidean distance `tolerance` (pixels) of a True pixel of `truth` [..., H, W]."""
    radius = int(np.floor(tolerance))
    if radius == 0:
        return truth
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= tolerance**2).to(torch.float32)
    flat = truth.reshape(-1, 1, *truth.shape[-2:]).to(torch.float32)
    reached = F.conv2d(flat, disk.to(truth.device)[None, None], padding=radius) > 0.5
    return reached.reshape(truth.shape)


def pointing_game(cam: Array, foreground: Array, valid: Array, tolerances: Sequence[float]) -> Array:
    """Pointing game (Zhang et al., "Top-down neural attention by excitation backprop", ECCV 2016):
    a hit when the map's maximum over the valid pixels lies on the object, or within `tolerance`
    pixels (Euclidean, at the mask's resolution) of a valid object pixel.

    Ties at the maximum (pixels of exactly the maximal value) score the share of them that are
    hits, the expected hit of a random choice among them: 1 or 0 for a single maximum, and for a
    constant map the share of valid pixels that count as hits. NaN where the object has no valid
    pixel. Shape ``(len(tolerances), *leading)``."""
    levels = _validated_tolerances(tolerances)
    cam, foreground, valid, leading, as_numpy = _inputs(cam, foreground, valid)
    return _returned(_pointing(cam, foreground, valid, leading, levels), as_numpy)


def _pointing(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, leading: torch.Size, levels: list[float]) -> torch.Tensor:
    truth = foreground & valid
    covered = truth.any(dim=-1).any(dim=-1)
    masked = torch.where(valid, cam, -torch.inf)
    peak = masked.amax(dim=(-2, -1), keepdim=True)
    top = masked == peak  # -inf only where no pixel is valid, and then `covered` is False
    count = top.sum(dim=(-2, -1))
    result = torch.empty((len(levels), *leading), dtype=torch.float64, device=cam.device)
    for k, tolerance in enumerate(levels):
        hits = (top & _within(truth, tolerance)).sum(dim=(-2, -1))
        result[k] = torch.where(covered, hits.to(torch.float64) / count.clamp(min=1), torch.nan)
    return result


def ranking_metrics(cam: Array, foreground: Array, valid: Array) -> tuple[Array, Array]:
    """`mask_auroc` and `mask_average_precision` from one sort of the pixels (the costly part)."""
    cam, foreground, valid, leading, as_numpy = _inputs(cam, foreground, valid)
    auc, ap = _ranking(cam, foreground, valid, leading)
    return _returned(auc, as_numpy), _returned(ap, as_numpy)


# The integer type whose order on a float type's bit patterns is the floats' order, for floats >= 0.
_SORT_KEY = {torch.float32: torch.int32, torch.float64: torch.int64}


def _sorted_keys(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Per map, one integer key per pixel in decreasing order: the map value's bits times two plus 1
    for an object pixel, -1 for an invalid pixel (after every valid one). Equal keys are equal values
    and labels, so sorting the keys alone sorts the values and carries the labels with them: no
    argsort and no gather. Keys order as the values do because maps are >= 0 (`_inputs` checks);
    half-precision maps widen to float32 exactly."""
    exact = cam if cam.dtype in _SORT_KEY else cam.to(torch.float32)
    bits = (exact + 0.0).view(_SORT_KEY[exact.dtype])  # + 0.0: -0.0 has other bits than 0.0
    key = torch.where(valid, bits * 2 + foreground, -1).expand(shape).reshape(-1, shape[-2] * shape[-1])
    if key.device.type == "cpu":
        # NumPy sorts integer rows with SIMD kernels (AVX-512 where there is one): here about 3x
        # torch's CPU sort with indices.
        return torch.from_numpy(np.sort(key.numpy(), axis=1)).flip(1)
    return key.sort(dim=1, descending=True).values


def _ranking(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, leading: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
    # Per map, its pixels by decreasing value (invalid ones last), and the curves' points at the end
    # of each group of equal values: scikit-learn's thresholds are the distinct values.
    key = _sorted_keys(cam, foreground, valid, (*leading, *cam.shape[-2:]))
    counted = key >= 0
    object_pixel = counted & (key & 1).bool()
    tp = object_pixel.cumsum(1)
    fp = (counted & ~object_pixel).cumsum(1)
    value = key >> 1
    last = torch.ones_like(key, dtype=torch.bool)
    last[:, :-1] = value[:, 1:] != value[:, :-1]
    # At each group end, the counts at the previous group end (0 before the first). Both counts
    # only grow, and so does tp * 2^32 + fp: its running maximum over group ends carries both.
    packed = torch.where(last, (tp << 32) + fp, 0).cummax(1).values
    packed = torch.cat([torch.zeros_like(packed[:, :1]), packed[:, :-1]], 1)
    tp_before, fp_before = packed >> 32, packed & 0xFFFFFFFF
    total_pos, total_neg = tp[:, -1].to(torch.float64), fp[:, -1].to(torch.float64)
    # ROC: trapezoids between consecutive points (ties count one half), in exact integers.
    doubled = torch.where(last, (fp - fp_before) * (tp + tp_before), 0).sum(1).to(torch.float64)
    auc = torch.where((total_pos > 0) & (total_neg > 0), 0.5 * doubled / (total_pos * total_neg).clamp(min=1), torch.nan)
    # AP: the recall gained at each point times the precision there.
    gain = torch.where(last, (tp - tp_before).to(torch.float64) * tp / (tp + fp).clamp(min=1), 0.0).sum(1)
    ap = torch.where(total_pos > 0, gain / total_pos.clamp(min=1), torch.nan)
    return auc.reshape(leading), ap.reshape(leading)


def mask_auroc(cam: Array, foreground: Array, valid: Array) -> Array:
    """Area under the ROC curve of the map's values as a per-pixel object detector over all
    thresholds, per image (valid pixels only): the probability that a random object pixel has a
    higher value than a random background pixel, ties counting one half (scikit-learn's
    ``roc_auc_score``). NaN where the object or the background has no valid pixel."""
    return ranking_metrics(cam, foreground, valid)[0]


def mask_average_precision(cam: Array, foreground: Array, valid: Array) -> Array:
    """Average precision of the map's values as a per-pixel object detector over all thresholds,
    per image (valid pixels only): sum over the distinct values, in decreasing order, of the gain
    in recall times the precision there (scikit-learn's ``average_precision_score``, no
    interpolation). NaN where the object has no valid pixel; 1 where every valid pixel is object."""
    return ranking_metrics(cam, foreground, valid)[1]


PXAP_BINS = 1000
"""PxAP's threshold grid: t = k / PXAP_BINS, k = 0..PXAP_BINS - 1 (a pixel is predicted at t when
its value >= t; values are binned by floor(value * PXAP_BINS), 1 falling in the last bin)."""


def pixel_counts(cam: Array, foreground: Array, valid: Array, bins: int = PXAP_BINS) -> Array:
    """Valid object and background pixels per value bin, per map: int64 ``[2, *leading, bins]``
    (object first). Counts add over images, so PxAP over a dataset is built from batches."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")
    cam, foreground, valid, leading, as_numpy = _inputs(cam, foreground, valid)
    return _returned(_counts(cam, foreground, valid, leading, bins), as_numpy)


def _counts(cam: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor, leading: torch.Size, bins: int) -> torch.Tensor:
    shape = (*leading, *cam.shape[-2:])
    rows = int(np.prod(leading, dtype=np.int64))
    # Bin k holds [k / bins, (k + 1) / bins), the last one also 1; float64 so that k / bins lands in bin k.
    binned = (cam.to(torch.float64) * bins).floor_().clamp_(max=bins - 1).to(torch.int64).expand(shape).reshape(rows, -1)
    binned = binned + bins * torch.arange(rows, device=cam.device)[:, None]
    # Background pixels shifted past every object bin: one bincount for both.
    region = torch.where(foreground, 0, rows * bins).expand(shape).reshape(rows, -1)
    chosen = valid.expand(shape).reshape(rows, -1)
    counts = torch.bincount((binned + region)[chosen], minlength=2 * rows * bins)
    return counts.reshape(2, *leading, bins)


def average_precision_from_counts(counts: Array) -> Array:
    """PxAP (Choe et al., "Evaluating weakly supervised object localization methods right",
    CVPR 2020): the average precision of all pixels of a dataset pooled, from `pixel_counts` summed
    over its images (``[2, ..., bins]``); the thresholds are the bins. NaN where no object pixel."""
    as_numpy = not isinstance(counts, torch.Tensor)
    counts = counts if not as_numpy else torch.from_numpy(np.asarray(counts))
    if counts.ndim < 2 or counts.shape[0] != 2 or counts.is_floating_point() or counts.dtype == torch.bool:
        raise ValueError(f"counts must be integer [2, ..., bins] (object, background), got {counts.dtype} {tuple(counts.shape)}")
    if bool((counts < 0).any()):
        raise ValueError("counts must be >= 0")
    # From the highest bin down: pixels predicted at threshold k / bins.
    above = counts.flip(-1).cumsum(-1).to(torch.float64)
    tp, seen = above[0], above[0] + above[1]
    gain = counts[0].flip(-1).to(torch.float64)
    total = tp[..., -1]
    ap = (gain * tp / seen.clamp(min=1)).sum(-1) / total.clamp(min=1)
    return _returned(torch.where(total > 0, ap, torch.nan), as_numpy)


@dataclass(frozen=True)
class Metric:
    """A registered localisation metric; what it is (parameter, per image, meaning) is its entry of
    `pcgc.spec.metrics.METRIC_KINDS`, which the workflow reads without torch.

    ``compute(maps, foreground, valid, leading, parameters, cache)`` takes tensors already checked
    (`check_inputs`) and returns ``[len(parameters), *leading]`` (``parameters`` is ``[None]`` for
    a metric without one); ``cache`` is a dict shared by the metrics scored on the same maps, so
    that AUROC and AP sort the pixels once. A dataset-level metric (``per_image`` False) has no
    per-image value: its ``compute`` returns what adds up over images (PxAP: `pixel_counts`), and
    ``finish`` turns the sum over a dataset into the score.
    """

    name: str
    compute: Callable
    finish: Callable | None = None


def check_inputs(cam, foreground, valid) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Size]:
    """The checks every metric makes, once, for callers that score several metrics on the same
    maps: (maps, foreground, valid) as tensors, and the broadcast leading shape."""
    return _inputs(cam, foreground, valid)[:4]


def _no_parameter(parameters: Sequence) -> None:
    if list(parameters) != [None]:
        raise ValueError(f"this metric takes no parameter, got {list(parameters)!r}")


def _energy_metric(cam, foreground, valid, leading, parameters, cache):
    _no_parameter(parameters)
    return _energy(cam, foreground, valid, leading)[None]


def _ranking_metric(position: int) -> Callable:
    def compute(cam, foreground, valid, leading, parameters, cache):
        _no_parameter(parameters)
        if "ranking" not in cache:
            cache["ranking"] = _ranking(cam, foreground, valid, leading)
        return cache["ranking"][position][None]

    return compute


def _pxap_counts(cam, foreground, valid, leading, parameters, cache):
    _no_parameter(parameters)
    return _counts(cam, foreground, valid, leading, PXAP_BINS)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("iou", lambda c, f, v, leading, p, cache: _iou(c, f, v, leading, _validated_thresholds(p).tolist())),
        Metric("energy_pointing", _energy_metric),
        Metric("pointing_game", lambda c, f, v, leading, p, cache: _pointing(c, f, v, leading, _validated_tolerances(p))),
        Metric("auroc", _ranking_metric(0)),
        Metric("average_precision", _ranking_metric(1)),
        Metric("pxap", _pxap_counts, finish=average_precision_from_counts),
    )
}
if set(METRICS) != set(METRIC_KINDS):
    raise ImportError(f"pcgc.analysis.metrics computes {sorted(METRICS)}, pcgc.spec.metrics declares {sorted(METRIC_KINDS)}: they must agree")


# Scoring raw CAMs against object masks: normalise the raw maps as pytorch-grad-cam does
# (`pcgc.compute.cam.normalize_cam`), resize them to the mask, and compute each score. A score is a
# registered metric and its parameter (`pcgc.spec.metrics.Score`): IoU at each threshold, the pointing
# game at each tolerance, the others without one.


def _normalised(cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor):
    if cam_raw.ndim != 4 or mask_ids.ndim != 3 or cam_raw.shape[0] != mask_ids.shape[0]:
        raise ValueError(
            f"need maps [R, T, h, w] and masks [R, H, W] for the same R; got {tuple(cam_raw.shape)} and {tuple(mask_ids.shape)}"
        )
    if class_id.shape != (cam_raw.shape[0],):
        raise ValueError(f"need one class id per map row; got shape {tuple(class_id.shape)} for {cam_raw.shape[0]} rows")
    maps = normalize_cam(cam_raw, tuple(mask_ids.shape[-2:]))
    ids = mask_ids.to(device=maps.device, dtype=torch.int32)[:, None]
    foreground = ids == class_id.to(device=ids.device, dtype=torch.int32).view(-1, 1, 1, 1)
    return maps, foreground, ids != IGNORE_ID


def score_maps(
    cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor, scores: Sequence[Score]
) -> torch.Tensor:
    """Per-image scores of raw maps `cam_raw` [R, T, h, w] against masks `mask_ids` [R, H, W]
    (ImageNet-S class ids; `IGNORE_ID` pixels excluded), the object being `class_id` [R].

    Returns float64 [len(scores), R, T] on the maps' device; NaN where a score is undefined
    (`pcgc.analysis.metrics`'s policy). Dataset-level scores (PxAP) come from `score_batch`.
    """
    dataset_level = [s for s in scores if not s.per_image]
    if dataset_level:
        raise ValueError(f"{dataset_level} are dataset-level: build them with score_batch")
    return score_batch(cam_raw, mask_ids, class_id, scores)[0]


def score_batch(
    cam_raw: torch.Tensor, mask_ids: torch.Tensor, class_id: torch.Tensor, scores: Sequence[Score]
) -> tuple[torch.Tensor, dict[Score, torch.Tensor]]:
    """Every score of `scores` on a batch of maps, normalised and checked once for all: the
    per-image ones as in `score_maps` ([S, R, T], in their order among `scores`), and for each
    dataset-level one what adds up over images (PxAP: pixel counts [2, R, T, bins]; sum them over
    the images and give the sum to the metric's `finish`)."""
    maps, foreground, valid = _normalised(cam_raw, mask_ids, class_id)
    maps, foreground, valid, leading = check_inputs(maps, foreground, valid)
    per_image = [s for s in scores if s.per_image]
    result = torch.empty((len(per_image), *leading), dtype=torch.float64, device=maps.device)
    cache: dict = {}
    by_metric: dict[str, list[int]] = {}
    for k, score in enumerate(per_image):
        by_metric.setdefault(score.metric, []).append(k)
    for name, rows in by_metric.items():
        parameters = [per_image[k].parameter for k in rows]
        result[rows] = METRICS[name].compute(maps, foreground, valid, leading, parameters, cache)
    pooled = {
        s: METRICS[s.metric].compute(maps, foreground, valid, leading, [s.parameter], cache) for s in scores if not s.per_image
    }
    return result, pooled
