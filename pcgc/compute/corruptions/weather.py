"""Weather families (per-severity parameters of imagecorruptions 1.1.2).

    snow     a flake layer L: n ~ N(mu, s) per pixel, zoomed by z (clipped zoom, order 1), values
             under t set to 0, clipped to [0, 1], motion-streaked (radius r, sigma q) at an angle
             ~ U(-135, -45) deg, rounded to 8 bits, cropped to H x W; then
             out = clip(b x + (1 - b) max(x, 1.5 gray(x) + .5) + L + rot180(L), 0, 1)
             (mu, s, z, t, r, q, b) = (.1, .3, 3, .5, 10, 4, .8) (.2, .3, 2, .5, 12, 4, .7)
             (.55, .3, 4, .9, 12, 8, .7) (.55, .3, 4.5, .85, 12, 8, .65) (.55, .3, 2.5, .85, 12, 12, .55)
    frost    out = clip(a x + b F, 0, 1), F a random crop of one of five frost photographs, picked at
             random and resized (bicubic) to 1.1 times the smallest size that covers the image
             (a, b) = (1, .4) (.8, .6) (.7, .7) (.65, .7) (.6, .75)
    fog      out = clip((x + a P) m / (m + a), 0, 1), m = max(x), P a plasma fractal (diamond-square
             on a 2^k square covering the image, roughness decay d, normalised to [0, 1])
             (a, d) = (1.5, 2) (2, 2) (2.5, 1.7) (2.5, 1.5) (3, 1.4)
    spatter  a liquid layer: G_s(n), n ~ N(mu, sd), values under t set to 0; severities 4-5 paint
             mud where M = G_g([layer > t]) >= .8: out = clip(x (1 - M) + M (63, 42, 20) / 255, 0, 1);
             (mu, sd, s, t, g) = (.65, .3, 1, .65, 1.5) (.67, .4, 1, .65, 1.5).
             Severities 1-3 (water drops, shaded with OpenCV's Canny edges, distance transform and
             histogram equalisation) are in `spatter_water.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from pcgc.compute.corruptions.base import (
    Draws,
    Kernel,
    clipped_zoom,
    gaussian_filter,
    integers,
    motion_streak,
    rgb_to_gray,
)
from pcgc.spec.corruptions import FROST_TEXTURES, frost_texture_dir

SNOW = (
    (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
    (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
    (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
    (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
    (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
)
FROST = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
FOG = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
SPATTER = (
    (0.65, 0.3, 4, 0.69, 0.6, 0),
    (0.65, 0.3, 3, 0.68, 0.6, 0),
    (0.65, 0.3, 2, 0.68, 0.5, 0),
    (0.65, 0.3, 1, 0.65, 1.5, 1),
    (0.67, 0.4, 1, 0.65, 1.5, 1),
)
MUD = (63 / 255, 42 / 255, 20 / 255)


# -- snow -----------------------------------------------------------------------------------------


def _draw_snow(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    loc, scale = SNOW[severity - 1][:2]
    field = rng.normal(size=tuple(image.shape[-2:]), loc=loc, scale=scale)
    return {"field": field, "angle": rng.uniform(-135, -45)}


def _apply_snow(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    _, _, zoom, threshold, radius, sigma, blend = SNOW[severity - 1]
    h, w = x.shape[-2:]
    layer = clipped_zoom(draws["field"].double().unsqueeze(1), zoom)
    layer = torch.where(layer < threshold, torch.zeros_like(layer), layer).clamp(0, 1)
    # Streaked on the zoomed layer (larger than the image), then cropped, as the reference does.
    layer = motion_streak(layer, radius, sigma, draws["angle"])
    layer = (torch.round(layer * 255) / 255)[..., :h, :w].to(x.dtype)
    paler = blend * x + (1 - blend) * torch.maximum(x, rgb_to_gray(x) * 1.5 + 0.5)
    return (paler + layer + layer.flip(-2, -1)).clamp(0, 1)


# -- frost ----------------------------------------------------------------------------------------


def frost_scale(texture_hw: tuple[int, int], image_hw: tuple[int, int]) -> tuple[int, int]:
    """The (height, width) imagecorruptions resizes a texture to: 1.1 times the smallest scale
    (at least 1) at which it covers the image, each side rounded up."""
    (th, tw), (h, w) = texture_hw, image_hw
    if th >= h and tw >= w:
        factor = 1.0
    elif tw >= w:
        factor = h / th
    elif th >= h:
        factor = w / tw
    else:
        factor = max(h / th, w / tw)
    factor *= 1.1
    return int(np.ceil(th * factor)), int(np.ceil(tw * factor))


class FrostTextures:
    """Frost's textures as 8-bit RGB, resized once per image size (bicubic, a = -0.75, as OpenCV's
    INTER_CUBIC, rounded to 8 bits) and kept per device."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = frost_texture_dir(directory)
        # cv2.imread reads 3 colour channels and drops alpha; PIL's convert('RGB') does the same.
        self.images = [np.array(Image.open(self.directory / name).convert("RGB")) for name in FROST_TEXTURES]
        self._resized: dict[tuple[int, int, str], list[torch.Tensor]] = {}

    def resized(self, h: int, w: int, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The five textures for (h, w) images, [3, H', W'] float 8-bit values on `device`."""
        key = (h, w, str(torch.device(device)))
        if key not in self._resized:
            cpu = (h, w, "cpu")
            if cpu not in self._resized:
                out = []
                for image in self.images:
                    size = frost_scale(image.shape[:2], (h, w))
                    t = torch.from_numpy(image).permute(2, 0, 1)[None].double()
                    big = F.interpolate(t, size=size, mode="bicubic", align_corners=False)
                    out.append(torch.round(big).clamp(0, 255)[0].float())
                self._resized[cpu] = out
            self._resized[key] = [t.to(device) for t in self._resized[cpu]]
        return self._resized[key]


def frost_kernel(directory: str | Path | None = None) -> Kernel:
    """The frost kernel over the textures of `directory` (see `frost_texture_dir`)."""
    textures = FrostTextures(directory)

    def draw(rng: Any, severity: int, image: torch.Tensor) -> Draws:
        h, w = image.shape[-2:]
        index = int(integers(rng, 0, len(FROST_TEXTURES)))
        th, tw = textures.resized(h, w)[index].shape[-2:]
        return {"index": index, "top": int(integers(rng, 0, th - h)), "left": int(integers(rng, 0, tw - w))}

    def apply(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
        a, b = FROST[severity - 1]
        h, w = x.shape[-2:]
        resized = textures.resized(h, w, x.device)
        crops = torch.stack(
            [
                resized[int(i)][:, int(t) : int(t) + h, int(l) : int(l) + w]
                for i, t, l in zip(draws["index"].tolist(), draws["top"].tolist(), draws["left"].tolist())
            ]
        ).to(x.dtype)
        return (a * x + b * crops / 255).clamp(0, 1)

    return Kernel("frost", apply, draw)


# -- fog ------------------------------------------------------------------------------------------


def plasma_fractal(rng: Any, mapsize: int, decay: float) -> np.ndarray:
    """Diamond-square heightmap of side `mapsize` (a power of two), in [0, 1], wrapping at the
    edges: each new point is the mean of its 4 neighbours plus w * U(-w, w), w = 100 at the
    coarsest step and divided by `decay` at each finer one (imagecorruptions' draw order)."""
    if mapsize & (mapsize - 1):
        raise ValueError(f"plasma_fractal: mapsize {mapsize} is not a power of two")
    heights = np.zeros((mapsize, mapsize), dtype=np.float64)
    step, wibble = mapsize, 100.0
    while step >= 2:
        half = step // 2
        corners = heights[0::step, 0::step]
        squares = corners + np.roll(corners, -1, axis=0)
        squares = squares + np.roll(squares, -1, axis=1)
        heights[half::step, half::step] = squares / 4 + wibble * rng.uniform(-wibble, wibble, squares.shape)
        centres = heights[half::step, half::step]
        corners = heights[0::step, 0::step]
        across = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        heights[0::step, half::step] = across / 4 + wibble * rng.uniform(-wibble, wibble, across.shape)
        down = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        heights[half::step, 0::step] = down / 4 + wibble * rng.uniform(-wibble, wibble, down.shape)
        step //= 2
        wibble /= decay
    heights -= heights.min()
    return heights / heights.max()


def _draw_fog(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    h, w = image.shape[-2:]
    side = max(h, w, 3)  # imagecorruptions takes the largest of (H, W, channels)
    mapsize = 1 << (side - 1).bit_length()
    return {"plasma": plasma_fractal(rng, mapsize, FOG[severity - 1][1])[:h, :w]}


def _apply_fog(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    a = FOG[severity - 1][0]
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return ((x + a * draws["plasma"].unsqueeze(1).to(x.dtype)) * peak / (peak + a)).clamp(0, 1)


# -- spatter --------------------------------------------------------------------------------------


def _draw_spatter(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    loc, scale = SPATTER[severity - 1][:2]
    return {"liquid": rng.normal(size=tuple(image.shape[-2:]), loc=loc, scale=scale)}


def liquid_layer(liquid: torch.Tensor, severity: int) -> torch.Tensor:
    """[B, H, W] draws -> [B, 1, H, W]: G_s(n) ('nearest' borders), values under t set to 0 (float64)."""
    _, _, sigma, threshold, _, _ = SPATTER[severity - 1]
    layer = gaussian_filter(liquid.double().unsqueeze(1), (sigma, sigma), "nearest")
    return torch.where(layer < threshold, torch.zeros_like(layer), layer)


def _apply_spatter(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    _, _, _, threshold, spread, mud = SPATTER[severity - 1]
    layer = liquid_layer(draws["liquid"], severity)
    if not mud:
        from pcgc.compute.corruptions.spatter_water import water

        return water(x, layer, severity)
    mask = gaussian_filter((layer > threshold).float(), (spread, spread), "nearest")
    mask = torch.where(mask < 0.8, torch.zeros_like(mask), mask).to(x.dtype)
    colour = torch.tensor(MUD, device=x.device, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x * (1 - mask) + colour * mask).clamp(0, 1)


KERNELS = (
    Kernel("snow", _apply_snow, _draw_snow),
    Kernel("fog", _apply_fog, _draw_fog),
    Kernel("spatter", _apply_spatter, _draw_spatter),
)
