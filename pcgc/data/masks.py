"""ImageNet-S segmentation masks: class id per pixel = R + 256 * G (B = 0); 1000 = ignore."""

from __future__ import annotations

import numpy as np

BACKGROUND_ID = 0
IGNORE_ID = 1000


def decode_mask(rgb: np.ndarray) -> np.ndarray:
    """RGB mask (H, W, 3) of any integer dtype -> class ids (H, W) as int32.

    The arithmetic is done in int32: `uint8 * 256` overflows under NumPy 2.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB mask of shape (H, W, 3), got shape {rgb.shape}")
    channels = rgb.astype(np.int32)
    return channels[..., 0] + 256 * channels[..., 1]


def encode_mask(ids: np.ndarray) -> np.ndarray:
    """Class ids (H, W) -> RGB mask (H, W, 3) uint8, the inverse of `decode_mask`."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"expected class ids of shape (H, W), got shape {ids.shape}")
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= 256 * 256:
        raise ValueError("class ids must lie in [0, 65535] to be encoded as R + 256*G")
    rgb = np.zeros(ids.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = ids % 256
    rgb[..., 1] = ids // 256
    return rgb
