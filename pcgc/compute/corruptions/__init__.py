"""ImageNet-C corruptions in torch, batched on the pixels' device (catalogue: pcgc.spec.corruptions).

    corrupt(pixels [B, 3, H, W] in [0, 1], family, severity, seed=..., image_ids=[...]) -> same shape

Pixels are the image after pcgc's geometry (resize, crop) and before normalisation. Each image's
random draws come from its own generator, seeded by (seed, family, severity, image id), so an
image's corruption is the same alone or in any batch, on any device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from pcgc.compute.corruptions.base import CorruptionUnavailable, Kernel, image_rng
from pcgc.compute.corruptions.blur import KERNELS as BLUR
from pcgc.compute.corruptions.digital import KERNELS as DIGITAL
from pcgc.compute.corruptions.noise import KERNELS as NOISE
from pcgc.compute.corruptions.weather import KERNELS as WEATHER
from pcgc.compute.corruptions.weather import frost_kernel
from pcgc.spec.corruptions import FAMILIES, validate

__all__ = ["CorruptionUnavailable", "MIN_SIZE", "corrupt", "kernel", "stack_draws"]

# imagecorruptions refuses images under 32 x 32 (and fog, zoom and snow are written for larger).
MIN_SIZE = 32

_KERNELS: dict[str, Kernel] = {k.family: k for group in (NOISE, BLUR, WEATHER, DIGITAL) for k in group}
_FROST: dict[Path | None, Kernel] = {}


def kernel(family: str, frost_textures: str | Path | None = None) -> Kernel:
    """The kernel of a family; frost's is built over its textures (CorruptionUnavailable if absent)."""
    if family == "frost":
        key = None if frost_textures is None else Path(frost_textures)
        if key not in _FROST:
            _FROST[key] = frost_kernel(key)
        return _FROST[key]
    return _KERNELS[family]


def stack_draws(draws: Sequence[dict], device: torch.device) -> dict[str, torch.Tensor]:
    """Per-image draws -> one tensor per name, stacked over the batch, on `device`."""
    return {name: torch.as_tensor(np.stack([np.asarray(d[name]) for d in draws])).to(device) for name in draws[0]}


def check_pixels(pixels: torch.Tensor, image_ids: Sequence[str]) -> None:
    """ValueError unless pixels is a float [B, 3, H, W] tensor in [0, 1], H, W >= 32, one id per image."""
    if not isinstance(pixels, torch.Tensor) or not pixels.is_floating_point():
        raise ValueError(f"corrupt: pixels must be a float tensor, got {type(pixels).__name__} {getattr(pixels, 'dtype', '')}")
    if pixels.dim() != 4 or pixels.shape[1] != 3:
        raise ValueError(f"corrupt: pixels must have shape [B, 3, H, W], got {list(pixels.shape)}")
    if min(pixels.shape[-2:]) < MIN_SIZE:
        raise ValueError(f"corrupt: images must be at least {MIN_SIZE} x {MIN_SIZE} pixels, got {list(pixels.shape[-2:])}")
    if len(image_ids) != len(pixels):
        raise ValueError(f"corrupt: {len(pixels)} images but {len(image_ids)} image ids")
    if pixels.numel():
        low, high = float(pixels.min()), float(pixels.max())
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"corrupt: pixels must lie in [0, 1] (before normalisation), got [{low:g}, {high:g}]")


def corrupt(
    pixels: torch.Tensor,
    family: str,
    severity: int,
    *,
    seed: int,
    image_ids: Sequence[str],
    frost_textures: str | Path | None = None,
) -> torch.Tensor:
    """The images corrupted by `family` at `severity`, as float pixels in [0, 1] on pixels' device."""
    validate(family, severity)
    check_pixels(pixels, image_ids)
    chosen = kernel(family, frost_textures)
    draws: dict[str, torch.Tensor] = {}
    if chosen.draw is not None and len(pixels):
        images = pixels.detach()
        draws = stack_draws(
            [chosen.draw(image_rng(seed, family, severity, str(i)), severity, image) for i, image in zip(image_ids, images)],
            pixels.device,
        )
    out = chosen.apply(pixels, severity, draws)
    assert out.shape == pixels.shape, (family, out.shape)
    return out.to(pixels.dtype)


assert set(_KERNELS) | {"frost"} == set(FAMILIES), sorted(set(FAMILIES) ^ set(_KERNELS))
