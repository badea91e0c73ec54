"""What every corruption kernel shares: the kernel record, per-image generators, and the small
array operations the families are built from (separable filters with scipy's and OpenCV's border
rules, scipy's order-1 zoom, a motion streak of clamped shifts, skimage's HSV conversion).

Layout: pixels are float tensors [B, 3, H, W] in [0, 1] on any device. A family is split into
`draw` (host, numpy: the random numbers one image needs, from that image's own generator) and
`apply` (device, torch: everything else, on the whole batch). Draws are laid out as
`imagecorruptions` draws them (an (H, W, 3) field where it draws one), so that a test can hand
`apply` the very numbers the reference drew and compare the arithmetic exactly.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from pcgc.spec.corruptions import CorruptionUnavailable  # noqa: F401  (re-exported)

Draws = dict[str, Any]
DrawFn = Callable[[Any, int, torch.Tensor], Draws]
ApplyFn = Callable[[torch.Tensor, int, dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Kernel:
    """One family: `draw(rng, severity, image [3, H, W]) -> dict of numpy arrays / floats` for one
    image (None for deterministic families), and `apply(x [B, 3, H, W], severity, draws)` where
    `draws` holds each draw stacked over the batch, as tensors on x's device."""

    family: str
    apply: ApplyFn
    draw: DrawFn | None = None


def image_rng(seed: int, family: str, severity: int, image_id: str) -> np.random.Generator:
    """The generator of one image's corruption: PCG64 seeded by sha256(seed, family, severity, id).

    Draws are taken on the host, so an image's corruption is the same on every device and in any
    batch; the (much larger) arithmetic runs on the device.
    """
    key = hashlib.sha256(f"{seed}\0{family}\0{severity}\0{image_id}".encode()).digest()
    return np.random.default_rng(np.frombuffer(key, dtype=np.uint32))


def integers(rng: Any, low: int, high: int, size: Any = None) -> Any:
    """Integers in [low, high) from a numpy Generator or a legacy RandomState (the tests' reference)."""
    if isinstance(rng, np.random.Generator):
        return rng.integers(low, high, size=size)
    return rng.randint(low, high, size=size)


# -------------------------------------------------------------------------------------------------
# Border rules, as index maps (any offset, unlike torch's padding, which stops at the image size).


def border_index(index: torch.Tensor, n: int, mode: str) -> torch.Tensor:
    """Map integer positions (any range) into [0, n) by a border rule.

    nearest   a a a | a b c d | d d d   (scipy 'nearest', OpenCV BORDER_REPLICATE)
    reflect   b a | a b c d | d c       (scipy 'reflect', half-sample symmetric; period 2n)
    mirror    c b | a b c d | c b       (scipy 'mirror', OpenCV BORDER_REFLECT_101; period 2n - 2)
    """
    if mode == "nearest":
        return index.clamp(0, n - 1)
    if mode == "reflect":
        j = torch.remainder(index, 2 * n)
        return torch.where(j >= n, 2 * n - 1 - j, j)
    if mode == "mirror":
        if n == 1:
            return torch.zeros_like(index)
        j = torch.remainder(index, 2 * n - 2)
        return torch.where(j >= n, 2 * n - 2 - j, j)
    raise ValueError(f"unknown border mode {mode!r}")


def correlate1d(x: torch.Tensor, weights: torch.Tensor, dim: int, mode: str) -> torch.Tensor:
    """out[i] = sum_k w[k] x[i + k - r] along `dim` (-1 or -2) of [B, C, H, W], r = len(w) // 2,
    with x extended beyond its edges by `mode` (see `border_index`).

    A sum of shifted copies, tap by tap: these filters are memory-bound, and on a CPU the sum runs
    about three times faster than torch's depthwise convolution (on a GPU both are cheap)."""
    n = x.shape[dim]
    radius = weights.numel() // 2
    index = border_index(torch.arange(-radius, n + radius, device=x.device), n, mode)
    padded = x.index_select(dim, index)
    taps = weights.to(dtype=x.dtype).tolist()
    out = padded.narrow(dim, 0, n) * taps[0]
    for k in range(1, len(taps)):
        out.add_(padded.narrow(dim, k, n), alpha=taps[k])
    return out


def gaussian_weights(sigma: float, truncate: float) -> torch.Tensor:
    """scipy.ndimage's Gaussian: w[k] proportional to exp(-k^2 / (2 sigma^2)), |k| <= int(truncate sigma + 0.5)."""
    radius = int(truncate * float(sigma) + 0.5)
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * k**2 / float(sigma) ** 2)
    return torch.from_numpy(w / w.sum())


def gaussian_filter(x: torch.Tensor, sigma: tuple[float, float], mode: str, truncate: float = 4.0) -> torch.Tensor:
    """scipy.ndimage.gaussian_filter over H and W (sigma_h, sigma_w) of [B, C, H, W], channels apart
    (what skimage.filters.gaussian does with a channel axis)."""
    if sigma[0] > 0:
        x = correlate1d(x, gaussian_weights(sigma[0], truncate), -2, mode)
    if sigma[1] > 0:
        x = correlate1d(x, gaussian_weights(sigma[1], truncate), -1, mode)
    return x


def correlate2d(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """cv2.filter2D's correlation of each channel with an odd square kernel, borders by `mode`."""
    k = kernel.shape[0]
    radius = k // 2
    h, w = x.shape[-2:]
    rows = border_index(torch.arange(-radius, h + radius, device=x.device), h, mode)
    cols = border_index(torch.arange(-radius, w + radius, device=x.device), w, mode)
    padded = x.index_select(-2, rows).index_select(-1, cols)
    channels = x.shape[1]
    weight = kernel.to(device=x.device, dtype=x.dtype).reshape(1, 1, k, k).expand(channels, 1, k, k)
    return F.conv2d(padded, weight, groups=channels)


# -------------------------------------------------------------------------------------------------
# Resampling.


def lerp_axis(x: torch.Tensor, coords: np.ndarray, dim: int) -> torch.Tensor:
    """Linear interpolation of x along `dim` at float positions `coords` (all inside [0, n - 1])."""
    n = x.shape[dim]
    lower = np.clip(np.floor(coords), 0, n - 1).astype(np.int64)
    upper = np.minimum(lower + 1, n - 1)
    frac = torch.from_numpy(coords - lower).to(device=x.device, dtype=x.dtype)
    shape = [1] * x.dim()
    shape[dim] = frac.numel()
    frac = frac.reshape(shape)
    a = x.index_select(dim, torch.from_numpy(lower).to(x.device))
    b = x.index_select(dim, torch.from_numpy(upper).to(x.device))
    return a + (b - a) * frac


def zoom_order1(x: torch.Tensor, factor: float) -> torch.Tensor:
    """scipy.ndimage.zoom(x, factor, order=1) over H and W: output size round(n * factor), output
    pixel o samples input position o (n - 1) / (out - 1) (grid_mode=False), linearly."""
    for dim in (-2, -1):
        n = x.shape[dim]
        out = int(round(n * factor))
        ratio = (n - 1) / (out - 1) if out > 1 else 0.0
        x = lerp_axis(x, np.arange(out, dtype=np.float64) * ratio, dim)
    return x


def clipped_zoom(x: torch.Tensor, factor: float) -> torch.Tensor:
    """imagecorruptions' clipped zoom: the central ceil(n / factor) crop, zoomed by `factor` (order 1).
    The result is at least as large as x; callers crop its top-left corner."""
    h, w = x.shape[-2:]
    ch, cw = int(np.ceil(h / float(factor))), int(np.ceil(w / float(factor)))
    top, left = (h - ch) // 2, (w - cw) // 2
    return zoom_order1(x[..., top : top + ch, left : left + cw], factor)


def motion_streak(x: torch.Tensor, radius: int, sigma: float, angles: torch.Tensor) -> torch.Tensor:
    """imagecorruptions' `_motion_blur`, per image at its own angle (degrees):

        out = sum_{i < n} k_i shift(x, dx_i, dy_i),  k_i = exp(-i^2 / 2 sigma^2) / sum_j exp(-j^2 / 2 sigma^2)
        n = 2 radius + 1,  dy_i = -ceil(i sin(a) - 1/2),  dx_i = -ceil(i cos(a) - 1/2)

    and, as there, the sum stops at the first shift as large as the image (k is not renormalised).
    """
    width = 2 * radius + 1
    k = np.exp(-(np.arange(width, dtype=np.float64) ** 2) / (2 * sigma**2)) / (np.sqrt(2 * np.pi) * sigma)
    k = k / k.sum()
    h, w = x.shape[-2:]
    batch = len(angles)
    dys = np.zeros((width, batch), dtype=np.int64)
    dxs = np.zeros((width, batch), dtype=np.int64)
    weights = np.zeros((width, batch), dtype=np.float64)
    for b, angle in enumerate(angles.detach().cpu().double().numpy()):
        point = (width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle)))
        hypot = math.hypot(point[0], point[1])
        for i in range(width):
            dy = -math.ceil(((i * point[0]) / hypot) - 0.5)
            dx = -math.ceil(((i * point[1]) / hypot) - 0.5)
            if abs(dy) >= h or abs(dx) >= w:
                break  # the motion left the image: imagecorruptions stops here
            dys[i, b], dxs[i, b], weights[i, b] = dy, dx, k[i]
    # Each shift is a window of x padded by edge replication: one slice per image and step.
    pad = int(max(np.abs(dys).max(), np.abs(dxs).max()))
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate") if pad else x
    out = torch.zeros_like(x)
    for b in range(batch):
        for i in range(width):
            if weights[i, b] == 0:
                continue
            top, left = pad - int(dys[i, b]), pad - int(dxs[i, b])
            out[b].add_(padded[b, :, top : top + h, left : left + w], alpha=float(weights[i, b]))
    return out


# -------------------------------------------------------------------------------------------------
# Colour.


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """skimage.color.rgb2hsv on [B, 3, H, W]: v = max, s = (max - min) / max, h from the channel that
    is the max (blue wins ties over green, green over red, as skimage assigns them in that order)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    v = x.amax(1)
    delta = v - x.amin(1)
    safe = torch.where(delta == 0, torch.ones_like(delta), delta)
    s = torch.where(delta == 0, torch.zeros_like(v), delta / torch.where(v == 0, torch.ones_like(v), v))
    h = torch.zeros_like(v)
    h = torch.where(r == v, (g - b) / safe, h)
    h = torch.where(g == v, 2.0 + (b - r) / safe, h)
    h = torch.where(b == v, 4.0 + (r - g) / safe, h)
    h = torch.remainder(h / 6.0, 1.0)
    h = torch.where(delta == 0, torch.zeros_like(h), h)
    return torch.stack([h, s, v], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """skimage.color.hsv2rgb on [B, 3, H, W]: sector i = floor(6 h) mod 6, f = 6 h - floor(6 h),
    p = v (1 - s), q = v (1 - f s), t = v (1 - (1 - f) s)."""
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    hi = torch.floor(h * 6)
    f = h * 6 - hi
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector = torch.remainder(hi, 6).long()
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(hsv)
    for i, (cr, cg, cb) in enumerate(table):
        mask = (sector == i).unsqueeze(1)
        out = torch.where(mask, torch.stack([cr, cg, cb], 1), out)
    return out


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """cv2.cvtColor(RGB2GRAY) on floats: 0.299 R + 0.587 G + 0.114 B, as [B, 1, H, W]."""
    return (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)


def hwc(field: torch.Tensor) -> torch.Tensor:
    """A stacked (B, H, W, 3) draw as [B, 3, H, W]."""
    return field.permute(0, 3, 1, 2)
