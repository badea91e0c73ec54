"""Network inputs, clean or with Gaussian noise, as in Predify's noise analyses.

`space="normalized"` (Predify's): `x = Normalize(pixels) + N(0, sigma^2)`, no clipping.
`space="pixel"`: noise on the [0, 1] pixels, then Normalize. `clip=True` clips the noisy image to
the valid pixel range ([0, 1] in pixel space, its normalized image in normalized space).

Each image's noise comes from its own generator, seeded by (seed, sigma, image id), so an image
gets the same noise whatever else is selected and whichever batch it is in.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

SPACES = ("normalized", "pixel")


def image_rng(seed: int, sigma: float, image_id: str) -> np.random.Generator:
    key = hashlib.sha256(f"{seed}\0{float(sigma)!r}\0{image_id}".encode()).digest()
    return np.random.default_rng(np.frombuffer(key, dtype=np.uint32))


def make_inputs(
    pixels: np.ndarray,
    image_ids: Sequence[str],
    *,
    sigma: float,
    space: str,
    clip: bool,
    seed: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> np.ndarray:
    """uint8 [B, H, W, 3] -> float32 [B, 3, H, W], normalized, with the noise of each image."""
    if space not in SPACES:
        raise ValueError(f"noise.space: {space!r} is not one of {SPACES}")
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    if len(image_ids) != len(pixels):
        raise ValueError(f"{len(pixels)} images but {len(image_ids)} image ids")
    mean_ = np.asarray(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    std_ = np.asarray(std, dtype=np.float32).reshape(1, 3, 1, 1)
    x = pixels.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    if sigma > 0:
        noise = np.stack(
            [image_rng(seed, sigma, image_id).standard_normal(x.shape[1:], dtype=np.float32) for image_id in image_ids]
        ) * np.float32(sigma)
        if space == "pixel":
            x = x + noise
            if clip:
                x = np.clip(x, 0.0, 1.0)
            return ((x - mean_) / std_).astype(np.float32)
        x = (x - mean_) / std_ + noise
        if clip:
            x = np.clip(x, (0.0 - mean_) / std_, (1.0 - mean_) / std_)
        return x.astype(np.float32)
    return ((x - mean_) / std_).astype(np.float32)
