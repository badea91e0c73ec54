"""Intersection over union between thresholded Grad-CAMs and ground-truth object masks.

`iou` takes NumPy arrays or torch tensors (on any device) and returns the same kind, so that the
sweeps score their maps where they are computed and the per-extraction scoring shares the code.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np
import torch

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
    as_numpy = not isinstance(cam, torch.Tensor)
    cam, foreground, valid = (x if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x)) for x in (cam, foreground, valid))
    levels = _validated_thresholds(thresholds)

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

    truth = foreground & valid
    result = torch.empty((levels.size, *leading), dtype=torch.float64, device=cam.device)
    for k, level in enumerate(levels.tolist()):
        # One threshold at a time keeps the peak to a few bool arrays of the broadcast shape.
        predicted = (cam >= at_least(level, cam.dtype)) & valid
        intersection = (predicted & truth).sum(dim=(-2, -1))
        union = (predicted | truth).sum(dim=(-2, -1))
        ratio = intersection.to(torch.float64) / union.clamp(min=1).to(torch.float64)
        result[k] = torch.where(union > 0, ratio, torch.nan)
    return result.cpu().numpy() if as_numpy else result
