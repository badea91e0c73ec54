"""Representation recovery: how far a perturbed image's representation is from its clean one.

Predify's measure (its manifold-projection analysis, Fig. 2 of the Predify paper): for PCoder n,
image i and timestep t, with a = rep_n(t) of the perturbed input and b = rep_n of the clean input
(both flattened over C x H x W, m elements),

    d_n(t) = 1 - r(a, b),    r(a, b) = sum_k (a_k - mean a)(b_k - mean b)
                                        / sqrt(sum_k (a_k - mean a)^2 * sum_k (b_k - mean b)^2)

against two references (`RECOVERY_REFERENCES`):

* `same_t`: b is the clean run at the same timestep t (Predify's);
* `clean_t0`: b is the clean run at t = 0, the plain feedforward representation.

d lies in [0, 2]; 0 is a representation that is an increasing affine function of the clean one.
Where either representation is constant (zero variance) r is undefined and d is NaN.

r is computed in float64 (sums over up to millions of elements, and d near 0 is 1 - r near 1,
where float32 would keep only ~1e-7 of it); the float64 copies are made a few rows at a time, so
their memory stays below `CHUNK_ELEMENTS` elements whatever the batch.
"""

from __future__ import annotations

import torch

RECOVERY_REFERENCES = ("same_t", "clean_t0")

CHUNK_ELEMENTS = 1 << 24
"""Elements per float64 working copy (128 MiB): rows are processed in chunks of this size."""


def correlation_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[B] float64: 1 - Pearson r between a[i] and b[i] flattened, per row (module docstring)."""
    if a.shape != b.shape:
        raise ValueError(f"representations of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")
    rows = a.shape[0]
    per_row = max(1, a[0].numel()) if rows else 1
    step = max(1, CHUNK_ELEMENTS // per_row)
    out = torch.empty(rows, dtype=torch.float64, device=a.device)
    for start in range(0, rows, step):
        x = a[start : start + step].flatten(1).double()
        y = b[start : start + step].flatten(1).double()
        x = x - x.mean(1, keepdim=True)
        y = y - y.mean(1, keepdim=True)
        r = (x * y).sum(1) / ((x * x).sum(1) * (y * y).sum(1)).sqrt()
        out[start : start + step] = 1 - r  # 0 / 0 (a constant row) gives NaN, as documented
    return out


def distances(reps: tuple[torch.Tensor, ...], reference: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """[B, N] float32: d_n for every PCoder n between two states' representations."""
    return torch.stack([correlation_distance(a, b) for a, b in zip(reps, reference)], 1).float()
