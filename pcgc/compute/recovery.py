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

`correlation_distance` is the reference: everything in float64, a few rows at a time (float64
copies of at most `CHUNK_ELEMENTS` elements). `distances`, what the engine calls at every
timestep, is its fast form: the means and every sum are accumulated in float64, while the
centred values and their products stay in the representation's float32 (no float64 copy), and
the perturbed representation is centred once for all references. Each product then carries a
relative rounding of 2^-24, so r is within ~1e-7 of the float64 value and d within ~1e-7
absolute (tests/test_recovery.py bounds the difference by 1e-6), well below the rounding of the
float32 trajectories themselves; it takes about a third of the reference's time.
"""

from __future__ import annotations

from typing import Mapping, Sequence

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


def _centred(rep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """rep [B, ...] flattened and centred per row (in at least float32, the mean taken in float64),
    and its squared norm per row accumulated in float64."""
    x = rep.flatten(1)
    x = x.to(torch.promote_types(x.dtype, torch.float32))
    mean = x.sum(1, dtype=torch.float64) / x.shape[1]
    x = x - mean.to(x.dtype)[:, None]
    return x, (x * x).sum(1, dtype=torch.float64)


def distances(reps: Sequence[torch.Tensor], references: Mapping[str, Sequence[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """name -> [B, N] float32: d_n for every PCoder n between `reps` and each reference's
    representations (the fast form, module docstring)."""
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in references}
    for n, rep in enumerate(reps):
        a, a_norm = _centred(rep)
        for name, reference in references.items():
            b, b_norm = _centred(reference[n])
            r = (a * b).sum(1, dtype=torch.float64) / (a_norm * b_norm).sqrt()
            columns[name].append(1 - r)
    return {name: torch.stack(column, 1).float() for name, column in columns.items()}
