"""Blur families (per-severity parameters of imagecorruptions 1.1.2).

    defocus_blur   correlation with an anti-aliased disk of radius r (OpenCV's BORDER_REFLECT_101):
                   D = [X^2 + Y^2 <= r^2] / sum, over |X|, |Y| <= max(8, r), then a 3x3 (r <= 8) or
                   5x5 Gaussian of sigma a on D.     (r, a) = (3, .1) (4, .5) (6, .5) (8, .5) (10, .5)
    glass_blur     G_s, quantised down to 8 bits, then `n` passes of local copying (below), then G_s
                   (G_s: scipy's Gaussian, sigma s, 'nearest' borders, truncate 4).
                   (s, d, n) = (.7, 1, 2) (.9, 2, 1) (1, 2, 3) (1.1, 3, 2) (1.5, 4, 2)
    motion_blur    a Gaussian-weighted streak of 2r + 1 clamped shifts at an angle ~ U(-45, 45) deg
                   (`base.motion_streak`).       (r, sigma) = (10, 3) (15, 5) (15, 8) (15, 12) (20, 15)
    zoom_blur      (x + sum_z Z_z(x)) / (len(z) + 1), Z_z the central 1/z of x zoomed by z (order 1):
                   z = 1:1.11:.01, 1:1.16:.01, 1:1.21:.02, 1:1.26:.02, 1:1.31:.03 (numpy arange)
    gaussian_blur  G_c, c = 1 2 3 4 6

Glass blur's local copying: imagecorruptions visits the pixels (h, w) with d < h <= H - d and
d < w <= W - d in descending raster order and "swaps" x[h, w] with x[h + dy, w + dx], (dx, dy)
uniform in [-d, d). Because the swap assigns numpy views, it is in fact a copy,
x[h, w] <- x[h + dy, w + dx], the neighbour keeping its value, and the pass is sequential: a pixel
copies the new value of a neighbour visited before it (later in raster order) and the old value of
any other. We resolve those chains in parallel by pointer doubling: each visited pixel points to
its neighbour if the neighbour was visited before it, and otherwise takes the neighbour's old value;
following pointers to their ends (log2 of the longest chain rounds) gives every pixel's source.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pcgc.compute.corruptions.base import (
    Draws,
    Kernel,
    clipped_zoom,
    correlate2d,
    gaussian_filter,
    integers,
    motion_streak,
)

DEFOCUS = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
GLASS = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
MOTION = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
ZOOM = (
    np.arange(1, 1.11, 0.01),
    np.arange(1, 1.16, 0.01),
    np.arange(1, 1.21, 0.02),
    np.arange(1, 1.26, 0.02),
    np.arange(1, 1.31, 0.03),
)
GAUSSIAN = (1, 2, 3, 4, 6)


def disk_kernel(radius: int, alias_blur: float) -> torch.Tensor:
    """imagecorruptions' `disk`: the normalised aliased disk (float32), smoothed by OpenCV's
    GaussianBlur (k x k, k = 3 for r <= 8 else 5; weights exp(-i^2 / 2 a^2) normalised; borders
    BORDER_REFLECT_101)."""
    half = 8 if radius <= 8 else radius
    size = 3 if radius <= 8 else 5
    grid = np.arange(-half, half + 1)
    X, Y = np.meshgrid(grid, grid)
    disk = np.array((X**2 + Y**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    i = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(i**2) / (2 * alias_blur**2))
    g = torch.from_numpy((g / g.sum()).astype(np.float32)).double()
    smooth = torch.outer(g, g)
    out = correlate2d(torch.from_numpy(disk).double()[None, None], smooth, "mirror")[0, 0]
    return out.float()


def _apply_defocus(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    return correlate2d(x, disk_kernel(*DEFOCUS[severity - 1]), "mirror").clamp(0, 1)


def _glass_grid(h: int, w: int, delta: int) -> tuple[np.ndarray, np.ndarray]:
    # The visited rows and columns, in imagecorruptions' (descending) loop order.
    return np.arange(h - delta, delta, -1), np.arange(w - delta, delta, -1)


def _draw_glass(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    _, delta, passes = GLASS[severity - 1]
    rows, cols = _glass_grid(image.shape[-2], image.shape[-1], delta)
    # [pass, row, column, (dx, dy)], in the reference's loop order.
    return {"offsets": integers(rng, -delta, delta, size=(passes, len(rows), len(cols), 2))}


def glass_sources(offsets: torch.Tensor, h: int, w: int, delta: int) -> torch.Tensor:
    """[B, passes, rows, cols, 2] offsets -> [B, H * W]: the flat pixel whose value each pixel ends with."""
    dev = offsets.device
    batch = offsets.shape[0]
    rows, cols = (torch.from_numpy(a).to(dev) for a in _glass_grid(h, w, delta))
    here = (rows[:, None] * w + cols[None, :]).reshape(-1)  # [P]
    visited = torch.zeros(h * w, dtype=torch.bool, device=dev)
    visited[here] = True
    total = torch.arange(h * w, device=dev).expand(batch, -1).clone()
    for k in range(offsets.shape[1]):
        dx, dy = offsets[:, k, ..., 0], offsets[:, k, ..., 1]
        there = ((rows[None, :, None] + dy) * w + (cols[None, None, :] + dx)).reshape(batch, -1)  # [B, P]
        # Visited before `here` (descending raster order) means a larger flat index.
        linked = visited[there] & (there > here[None, :])
        pointer = torch.arange(h * w, device=dev).expand(batch, -1).clone()
        source = pointer.clone()
        pointer[:, here] = torch.where(linked, there, here[None, :].expand(batch, -1))
        source[:, here] = there  # used only where the chain ends (a pixel not linked)
        while True:
            jumped = pointer.gather(1, pointer)
            if torch.equal(jumped, pointer):
                break
            pointer = jumped
        # A chain ends at a pixel that copied an old value: its neighbour's (or, unvisited, its own).
        ends = source.gather(1, pointer)
        total = total.gather(1, ends)
    return total


def _apply_glass(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    sigma, delta, _ = GLASS[severity - 1]
    b, c, h, w = x.shape
    # np.uint8(gaussian(x) * 255): truncated to 8 bits between the two blurs.
    blurred = torch.floor(gaussian_filter(x, (sigma, sigma), "nearest") * 255) / 255
    sources = glass_sources(draws["offsets"].long(), h, w, delta)
    moved = blurred.reshape(b, c, h * w).gather(2, sources[:, None, :].expand(b, c, h * w)).reshape(b, c, h, w)
    return gaussian_filter(moved, (sigma, sigma), "nearest").clamp(0, 1)


def _draw_motion(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    return {"angle": rng.uniform(-45, 45)}


def _apply_motion(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    radius, sigma = MOTION[severity - 1]
    return motion_streak(x, radius, sigma, draws["angle"]).clamp(0, 1)


def _apply_zoom(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    h, w = x.shape[-2:]
    factors = ZOOM[severity - 1]
    out = torch.zeros_like(x)
    for factor in factors:
        out = out + clipped_zoom(x, float(factor))[..., :h, :w]
    return ((x + out) / (len(factors) + 1)).clamp(0, 1)


def _apply_gaussian(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    c = GAUSSIAN[severity - 1]
    return gaussian_filter(x, (c, c), "nearest").clamp(0, 1)


KERNELS = (
    Kernel("defocus_blur", _apply_defocus),
    Kernel("glass_blur", _apply_glass, _draw_glass),
    Kernel("motion_blur", _apply_motion, _draw_motion),
    Kernel("zoom_blur", _apply_zoom),
    Kernel("gaussian_blur", _apply_gaussian),
)
