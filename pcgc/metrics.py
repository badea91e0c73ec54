"""Intersection over union between thresholded Grad-CAMs and ground-truth object masks."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _validated_thresholds(thresholds: Sequence[float]) -> np.ndarray:
    values = np.asarray(thresholds, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got {thresholds!r}")
    # A threshold of 0 would mark every valid pixel as predicted, which says nothing about the CAM.
    bad = values[~(np.isfinite(values) & (values > 0) & (values <= 1))]
    if bad.size:
        raise ValueError(f"thresholds must satisfy 0 < t <= 1; offending values: {bad.tolist()}")
    return values


def iou(
    cam: np.ndarray,
    foreground: np.ndarray,
    valid: np.ndarray,
    thresholds: Sequence[float],
) -> np.ndarray:
    """IoU between ``cam >= threshold`` and the ground-truth ``foreground``, per image.

    Parameters
    ----------
    cam:
        Float array ``(..., H, W)`` of CAMs already normalised to [0, 1].
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
    float64 array of shape ``(len(thresholds), *broadcast_leading_shape)``. Where the union is
    empty (no predicted and no true pixel among the valid ones) the IoU is undefined and the
    result is NaN; callers must decide what to do with those entries.
    """
    cam = np.asarray(cam)
    foreground = np.asarray(foreground)
    valid = np.asarray(valid)
    levels = _validated_thresholds(thresholds)

    for name, array in (("cam", cam), ("foreground", foreground), ("valid", valid)):
        if array.ndim < 2:
            raise ValueError(f"{name} must have shape (..., H, W), got shape {array.shape}")
    if cam.shape[-2:] != foreground.shape[-2:] or cam.shape[-2:] != valid.shape[-2:]:
        raise ValueError(
            "cam, foreground and valid must share (H, W); got "
            f"{cam.shape[-2:]}, {foreground.shape[-2:]}, {valid.shape[-2:]}"
        )
    try:
        leading = np.broadcast_shapes(cam.shape[:-2], foreground.shape[:-2], valid.shape[:-2])
    except ValueError:
        raise ValueError(
            "leading dimensions do not broadcast: cam "
            f"{cam.shape}, foreground {foreground.shape}, valid {valid.shape}"
        ) from None
    if not np.issubdtype(cam.dtype, np.floating):
        raise TypeError(f"cam must be a float array, got dtype {cam.dtype}")
    # Masks must already be bool: casting label maps would turn class ids (and the ignore id)
    # into foreground without anyone noticing.
    for name, array in (("foreground", foreground), ("valid", valid)):
        if array.dtype != np.bool_:
            raise TypeError(f"{name} must be a bool array, got dtype {array.dtype}")
    if cam.size:
        if not np.isfinite(cam).all():
            raise ValueError(f"cam contains {int(np.count_nonzero(~np.isfinite(cam)))} non-finite values")
        low, high = float(cam.min()), float(cam.max())
        if low < 0 or high > 1:
            raise ValueError(f"cam must be normalised to [0, 1], got range [{low}, {high}]")

    truth = foreground & valid
    result = np.empty((levels.size, *leading), dtype=np.float64)
    for k, level in enumerate(levels):
        # One threshold at a time keeps the peak to a few bool arrays of the broadcast shape.
        predicted = (cam >= level) & valid
        intersection = np.count_nonzero(predicted & truth, axis=(-2, -1))
        union = np.count_nonzero(predicted | truth, axis=(-2, -1))
        row = result[k, ...]  # a view even when there are no leading dimensions
        row[...] = np.nan
        np.divide(intersection, union, out=row, where=union > 0)
    return result
