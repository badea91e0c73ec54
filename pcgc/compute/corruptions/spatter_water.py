"""Spatter's water drops (severities 1-3), in torch: imagecorruptions shades them with OpenCV
image operations, which we write out here on 8-bit values held in float tensors.

    L  = uint8(255 layer)                      the liquid layer (weather.liquid_layer), truncated
    E  = Canny(L, 50, 150)                     3x3 Sobel, L1 magnitude, non-maximum suppression,
                                               hysteresis (8-connected)
    D  = min(chamfer distance to E, 20)        OpenCV's 5x5 DIST_L2 mask: steps 1, 1.4, 2.1969
    D1 = uint8(box3(D));  D2 = equalizeHist(D1)
    D3 = sat8(D2 * K), K = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]];  D4 = round(box3(D3))
    m  = g L D4 / max(L D4),                   g = .6 .6 .5
    out = clip(x + m (175, 238, 238) / 255, 0, 1)

Borders as OpenCV's defaults (BORDER_REFLECT_101; Canny's Sobel replicates its borders). Where an
image has no liquid at all (max(L D4) = 0), imagecorruptions divides 0 by 0 and returns NaN; we
leave such an image unchanged (m = 0), which is what no water means. A liquid value above 1
(rare: about one pixel in a million at severity 3) is clipped to 255 here, where numpy's cast to
uint8 would wrap it around to 0.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from pcgc.compute.corruptions.base import border_index, correlate2d

GAIN = (0.6, 0.6, 0.5)
WATER = (175 / 255, 238 / 255, 238 / 255)
LOW, HIGH = 50, 150
TG22 = 13573  # OpenCV's round(tan(22.5 deg) 2^15)
CHAMFER = ((1, 0, 1.0), (1, 1, 1.4), (2, 1, 2.1969))
TRUNCATE = 20.0


def _shift(x: torch.Tensor, dy: int, dx: int, fill: float) -> torch.Tensor:
    """out[i, j] = x[i + dy, j + dx], `fill` outside."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)), value=fill)
    return padded[..., abs(dy) + dy : abs(dy) + dy + h, abs(dx) + dx : abs(dx) + dx + w]


def canny(image: torch.Tensor) -> torch.Tensor:
    """OpenCV's Canny(image, 50, 150) with aperture 3 and the L1 gradient, [B, 1, H, W] 8-bit values
    -> bool edges."""
    h, w = image.shape[-2:]
    rows = border_index(torch.arange(-1, h + 1, device=image.device), h, "nearest")
    cols = border_index(torch.arange(-1, w + 1, device=image.device), w, "nearest")
    padded = image.index_select(-2, rows).index_select(-1, cols)
    # Sobel's 3x3 kernels, separably: [1, 2, 1] smoothing across, [-1, 0, 1] difference along.
    across_rows = padded[..., :-2, :] + 2 * padded[..., 1:-1, :] + padded[..., 2:, :]
    gx = across_rows[..., 2:] - across_rows[..., :-2]
    across_cols = padded[..., :-2] + 2 * padded[..., 1:-1] + padded[..., 2:]
    gy = across_cols[..., 2:, :] - across_cols[..., :-2, :]
    mag = gx.abs() + gy.abs()
    # Which neighbours to compare with, by OpenCV's integer tangent tests.
    ax, ay = gx.abs().long(), gy.abs().long()
    tg22x = ax * TG22
    yy = ay << 15
    horizontal = yy < tg22x
    vertical = ~horizontal & (yy > tg22x + (ax << 16))
    same_sign = (gx * gy) >= 0  # OpenCV: s = (xs ^ ys) < 0 ? -1 : 1
    m = lambda dy, dx: _shift(mag, dy, dx, 0.0)  # noqa: E731  (magnitudes outside the image are 0)
    keep_h = (mag > m(0, -1)) & (mag >= m(0, 1))
    keep_v = (mag > m(-1, 0)) & (mag >= m(1, 0))
    keep_d = torch.where(same_sign, (mag > m(-1, -1)) & (mag > m(1, 1)), (mag > m(-1, 1)) & (mag > m(1, -1)))
    kept = torch.where(horizontal, keep_h, torch.where(vertical, keep_v, keep_d)) & (mag > LOW)
    strong = kept & (mag > HIGH)
    return hysteresis(kept, strong)


def hysteresis(kept: torch.Tensor, strong: torch.Tensor) -> torch.Tensor:
    """The kept pixels 8-connected (through kept pixels, within each image) to a strong one: the
    fixed point of Canny's edge tracking, found at once by labelling connected components (scipy,
    on the host: a boolean mask per image) instead of growing the edges one pixel per pass."""
    structure = np.zeros((3,) * kept.dim(), dtype=bool)
    structure[(1,) * (kept.dim() - 2)] = True  # 3 x 3 neighbours in H and W, never across images
    labels, count = ndimage.label(kept.cpu().numpy(), structure=structure)
    reached = np.zeros(count + 1, dtype=bool)
    reached[labels[strong.cpu().numpy()]] = True
    reached[0] = False
    return torch.from_numpy(reached[labels]).to(kept.device)


def chamfer_distance(edges: torch.Tensor) -> torch.Tensor:
    """min(distance to the nearest edge pixel, 20) by OpenCV's 5x5 chamfer mask, [B, 1, H, W].

    Relaxation, dist <- min over the 16 mask steps of (dist at the neighbour + the step's cost),
    outside the image infinite: every step costs at least 1, so 20 rounds reach every distance up
    to 20, and the rounds stop early once nothing changes."""
    h, w = edges.shape[-2:]
    dist = torch.where(edges, 0.0, TRUNCATE).to(torch.float32)
    steps = sorted(
        {(sy * a, sx * b, cost) for a, b, cost in CHAMFER for sy in (1, -1) for sx in (1, -1)}
        | {(sy * b, sx * a, cost) for a, b, cost in CHAMFER for sy in (1, -1) for sx in (1, -1)}
    )
    for _ in range(int(TRUNCATE)):
        padded = F.pad(dist, (2, 2, 2, 2), value=float("inf"))
        relaxed = dist
        for dy, dx, cost in steps:
            relaxed = torch.minimum(relaxed, padded[..., 2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w] + cost)
        if torch.equal(relaxed, dist):
            break
        dist = relaxed
    return dist.clamp(max=TRUNCATE)


def box3(x: torch.Tensor) -> torch.Tensor:
    """cv2.blur(x, (3, 3)): the 3x3 mean, BORDER_REFLECT_101, as OpenCV forms it: the sum in doubles
    times the double 1/9, rounded to float32 (which decides where a truncation to 8 bits falls)."""
    total = correlate2d(x.double(), torch.ones((3, 3), dtype=torch.float64), "mirror")
    return (total * (1.0 / 9)).to(torch.float32)


def equalize_hist(x: torch.Tensor) -> torch.Tensor:
    """cv2.equalizeHist per image of [B, 1, H, W] 8-bit values: lut[j] = round(255 (cdf(j) - h_0) /
    (N - h_0)), h_0 the count of the lowest value present; an image of one value stays as it is."""
    b = x.shape[0]
    flat = x.reshape(b, -1).long()
    hist = torch.zeros(b, 256, dtype=torch.float64, device=x.device).scatter_add_(
        1, flat, torch.ones_like(flat, dtype=torch.float64)
    )
    total = float(flat.shape[1])
    first = (hist > 0).float().argmax(1, keepdim=True)
    h0 = hist.gather(1, first)
    cdf = hist.cumsum(1)
    lut = torch.round((cdf - h0) * (255.0 / torch.clamp(total - h0, min=1))).clamp(0, 255)
    lut = torch.where(h0 == total, first.double().expand(-1, 256), lut)
    return lut.gather(1, flat).reshape(x.shape).to(x.dtype)


def water(x: torch.Tensor, layer: torch.Tensor, severity: int) -> torch.Tensor:
    """Spatter at severity 1-3 on x [B, 3, H, W] with its liquid layer [B, 1, H, W] (float64)."""
    liquid = torch.floor(layer * 255).clamp(0, 255).to(torch.float32)
    dist = chamfer_distance(canny(liquid))
    dist = torch.floor(box3(dist))  # float -> uint8 truncates
    dist = equalize_hist(dist)
    kernel = torch.tensor([[-2.0, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=torch.float64)
    dist = correlate2d(dist, kernel, "mirror").clamp(0, 255)
    dist = torch.round(box3(dist))
    shade = liquid * dist
    peak = shade.amax(dim=(1, 2, 3), keepdim=True)
    shade = torch.where(peak > 0, shade / torch.where(peak > 0, peak, torch.ones_like(peak)), torch.zeros_like(shade))
    colour = torch.tensor(WATER, device=x.device, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x + GAIN[severity - 1] * shade.to(x.dtype) * colour).clamp(0, 1)
