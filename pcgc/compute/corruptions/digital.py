"""Digital families (per-severity parameters of imagecorruptions 1.1.2).

    brightness         HSV (skimage's conversion): v <- clip(v + c, 0, 1)      c = .1 .2 .3 .4 .5
    contrast           (x - m) c + m, m the image's per-channel mean           c = .4 .3 .2 .1 .05
    saturate           HSV: s <- clip(s c1 + c2, 0, 1)
                       (c1, c2) = (.3, 0) (.1, 0) (2, 0) (5, .1) (20, .2)
    pixelate           PIL's BOX resize to (int(W c), int(H c)), then NEAREST back to (W, H)
                                                                              c = .6 .5 .4 .3 .25
    jpeg_compression   PIL (libjpeg) JPEG at quality c, decoded                c = 25 18 15 10 7
    elastic_transform  warp x by (dy, dx) = alpha G(u), u ~ U(-H/200, H/200) per pixel, G scipy's
                       Gaussian of sigma (H/100, W/100) ('reflect', truncate 3), sampled linearly
                       with scipy's 'reflect' borders (map_coordinates, order 1)
                       alpha = 12.5 16.25 21.25 25 30

Pixelate is PIL's resampling of 8-bit images. Down (n -> m samples, s = n / m): output i averages,
with equal weights, the inputs j whose offset (j + 1/2 - (i + 1/2) s) / s lies in (-1/2, 1/2]; PIL
resizes the width first, then the height, rounding half up to 8 bits after each pass. Up (m -> n):
output i takes input int(p_i), p_0 = s / 2, p_(i+1) = p_i + s, added up in doubles as PIL does (at
an exact tie the sum falls just below the product (i + 1/2) s). We apply the same weights as
matrices on the device, to the pixels' 8-bit values: the result is bit-identical.

JPEG runs on the host through PIL, as imagecorruptions runs it: the family is libjpeg's codec at a
quality (quantisation tables, chroma subsampling, its IDCT and upsampling), which a torch
re-implementation such as kornia's differentiable JPEG approximates but does not reproduce. It
needs 8-bit pixels and rounds x * 255 to them (pcgc's pixels are 8-bit images, so nothing is lost).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from PIL import Image

from pcgc.compute.corruptions.base import Draws, Kernel, border_index, gaussian_filter, hsv_to_rgb, rgb_to_hsv

BRIGHTNESS = (0.1, 0.2, 0.3, 0.4, 0.5)
CONTRAST = (0.4, 0.3, 0.2, 0.1, 0.05)
SATURATE = ((0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2))
PIXELATE = (0.6, 0.5, 0.4, 0.3, 0.25)
JPEG = (25, 18, 15, 10, 7)
ELASTIC = (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12)


def _apply_brightness(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    hsv = rgb_to_hsv(x)
    hsv = torch.stack([hsv[:, 0], hsv[:, 1], (hsv[:, 2] + BRIGHTNESS[severity - 1]).clamp(0, 1)], 1)
    return hsv_to_rgb(hsv).clamp(0, 1)


def _apply_contrast(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    means = x.mean(dim=(2, 3), keepdim=True)
    return ((x - means) * CONTRAST[severity - 1] + means).clamp(0, 1)


def _apply_saturate(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    scale, shift = SATURATE[severity - 1]
    hsv = rgb_to_hsv(x)
    hsv = torch.stack([hsv[:, 0], (hsv[:, 1] * scale + shift).clamp(0, 1), hsv[:, 2]], 1)
    return hsv_to_rgb(hsv).clamp(0, 1)


def box_weights(n: int, m: int) -> np.ndarray:
    """PIL's BOX resampling of n samples to m (m <= n) as an [m, n] matrix: row i weights 1 on
    the inputs j with (j - centre_i + 1/2) / s in (-1/2, 1/2], centre_i = (i + 1/2) s, s = n / m,
    among j in [int(centre - s/2 + 1/2), int(centre + s/2 + 1/2)), then normalised."""
    scale = n / m
    support = 0.5 * scale
    out = np.zeros((m, n), dtype=np.float64)
    for i in range(m):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n)
        for j in range(lo, hi):
            t = (j - centre + 0.5) / scale
            if -0.5 < t <= 0.5:
                out[i, j] = 1.0
        out[i] /= out[i].sum()
    return out


def nearest_index(n: int, m: int) -> np.ndarray:
    """PIL's NEAREST resize of n samples to m: output i takes input int(p_i), p_0 = s / 2,
    p_(i+1) = p_i + s, s = n / m, summed one step at a time in doubles as PIL does."""
    step = n / m
    positions = np.cumsum(np.concatenate([[0.5 * step], np.full(m - 1, step)]))  # sequential, like PIL
    return np.minimum(positions.astype(np.int64), n - 1)


def _round8(x: torch.Tensor) -> torch.Tensor:
    # PIL's fixed-point resampling: (sum + 2^21) >> 22, i.e. round half up, clipped to 0..255.
    return torch.floor(x + 0.5).clamp(0, 255)


def _apply_pixelate(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    c = PIXELATE[severity - 1]
    h, w = x.shape[-2:]
    small_h, small_w = int(h * c), int(w * c)
    dev = x.device
    rows = torch.from_numpy(box_weights(h, small_h)).to(dev, torch.float32)
    cols = torch.from_numpy(box_weights(w, small_w)).to(dev, torch.float32)
    # PIL resizes 8-bit values: round to them first (exact for pcgc's 8-bit pixels), so that a tie
    # (two pixels of odd sum averaged) is a tie here too and rounds up as PIL's fixed point does.
    # Each output averages at most 1 / c < 5 values, so float32 holds every sum exactly.
    levels = torch.round(x.float() * 255)
    across = _round8(torch.einsum("bchw,jw->bchj", levels, cols))
    small = _round8(torch.einsum("ih,bchj->bcij", rows, across))
    up_rows = torch.from_numpy(nearest_index(small_h, h)).to(dev)
    up_cols = torch.from_numpy(nearest_index(small_w, w)).to(dev)
    return (small.index_select(2, up_rows).index_select(3, up_cols) / 255).to(x.dtype)


def _apply_jpeg(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    pixels = torch.round(x.detach() * 255).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for image in pixels:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=JPEG[severity - 1])
        decoded.append(np.asarray(Image.open(buffer).convert("RGB")))
    out = torch.from_numpy(np.stack(decoded)).to(x.device).permute(0, 3, 1, 2)
    return out.to(x.dtype) / 255


def _draw_elastic(rng: Any, severity: int, image: torch.Tensor) -> Draws:
    h, w = image.shape[-2:]
    limit = h * 0.005  # imagecorruptions bounds dx and dy alike by the height
    return {"dx": rng.uniform(-limit, limit, size=(h, w)), "dy": rng.uniform(-limit, limit, size=(h, w))}


def sample_reflect(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """scipy.ndimage.map_coordinates(order=1, mode='reflect') of [B, C, H, W] at per-image float
    positions rows, cols [B, H', W']: bilinear between the four integer neighbours, each taken
    from x extended half-sample symmetrically."""
    b, c, h, w = x.shape
    r0, c0 = torch.floor(rows), torch.floor(cols)
    # Positions in float64 (their integer part must be exact); weights and values in x's dtype.
    fr, fc = (rows - r0).unsqueeze(1).to(x.dtype), (cols - c0).unsqueeze(1).to(x.dtype)
    r0, c0 = r0.long(), c0.long()
    flat = x.reshape(b, c, h * w)

    def at(r: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        index = border_index(r, h, "reflect") * w + border_index(q, w, "reflect")
        return flat.gather(2, index.reshape(b, 1, -1).expand(b, c, -1)).reshape(b, c, *rows.shape[1:])

    top = at(r0, c0) * (1 - fc) + at(r0, c0 + 1) * fc
    bottom = at(r0 + 1, c0) * (1 - fc) + at(r0 + 1, c0 + 1) * fc
    return top * (1 - fr) + bottom * fr


def _apply_elastic(x: torch.Tensor, severity: int, draws: dict[str, torch.Tensor]) -> torch.Tensor:
    b, _, h, w = x.shape
    alpha = ELASTIC[severity - 1]
    sigma = (h * 0.01, w * 0.01)
    # The fields in float64, as scipy smooths them; the positions they move to as well.
    fields = torch.stack([draws["dx"], draws["dy"]], 1).double()
    dx, dy = (gaussian_filter(fields, sigma, "reflect", truncate=3) * alpha).float().double().unbind(1)
    rows = torch.arange(h, device=x.device, dtype=torch.float64)[None, :, None] + dy
    cols = torch.arange(w, device=x.device, dtype=torch.float64)[None, None, :] + dx
    return sample_reflect(x, rows, cols).clamp(0, 1)


KERNELS = (
    Kernel("brightness", _apply_brightness),
    Kernel("contrast", _apply_contrast),
    Kernel("elastic_transform", _apply_elastic, _draw_elastic),
    Kernel("pixelate", _apply_pixelate),
    Kernel("jpeg_compression", _apply_jpeg),
    Kernel("saturate", _apply_saturate),
)
