"""Noise families (per value, independently; severities' c from imagecorruptions 1.1.2).

    gaussian_noise  clip(x + c n),          n ~ N(0, 1),           c = .08 .12 .18 .26 .38
    shot_noise      clip(k / c),            k ~ Poisson(c x),      c = 60 25 12 5 3
    impulse_noise   1 or 0 with prob. c/2 each, x otherwise (skimage's 's&p'), c = .03 .06 .09 .17 .27
    speckle_noise   clip(x + x c n),        n ~ N(0, 1),           c = .15 .2 .35 .45 .6
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pcgc.compute.corruptions.base import Draws, Kernel, hwc

GAUSSIAN = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT = (60, 25, 12, 5, 3)
IMPULSE = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE = (0.15, 0.2, 0.35, 0.45, 0.6)


def _hw3(image: torch.Tensor) -> tuple[int, int, int]:
    return (image.shape[-2], image.shape[-1], 3)


def _draw_gaussian(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    return {"noise": rng.normal(size=_hw3(image), scale=GAUSSIAN[severity - 1])}


def _apply_gaussian(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    return (x + hwc(draws["noise"]).to(x.dtype)).clamp(0, 1)


def _draw_shot(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    # The Poisson draw depends on the image, so it is the one draw that needs the pixels on the
    # host (in float64, as imagecorruptions computes x * c).
    c = SHOT[severity - 1]
    pixels = image.detach().cpu().double().permute(1, 2, 0).numpy()
    return {"counts": rng.poisson(pixels * c).astype(np.float32)}


def _apply_shot(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    return (hwc(draws["counts"]).to(x.dtype) / float(SHOT[severity - 1])).clamp(0, 1)


def _draw_impulse(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    # skimage.util.random_noise(mode='s&p'): a value is replaced where u1 <= amount, by 1 where
    # u2 <= 1/2 (salt) and by 0 otherwise (pepper).
    shape = _hw3(image)
    flipped = rng.random(shape) <= IMPULSE[severity - 1]
    salted = rng.random(shape) <= 0.5
    return {"flipped": flipped, "salted": salted}


def _apply_impulse(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    flipped, salted = hwc(draws["flipped"]).bool(), hwc(draws["salted"]).bool()
    return torch.where(flipped, salted.to(x.dtype), x)


def _draw_speckle(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    return {"noise": rng.normal(size=_hw3(image), scale=SPECKLE[severity - 1])}


def _apply_speckle(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    return (x + x * hwc(draws["noise"]).to(x.dtype)).clamp(0, 1)


KERNELS = (
    Kernel("gaussian_noise", _apply_gaussian, _draw_gaussian),
    Kernel("shot_noise", _apply_shot, _draw_shot),
    Kernel("impulse_noise", _apply_impulse, _draw_impulse),
    Kernel("speckle_noise", _apply_speckle, _draw_speckle),
)
