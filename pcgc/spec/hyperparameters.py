"""The dynamics' hyperparameters: beta (feedforward), lambda (feedback) and alpha (error
correction), one value per PCoder, bottom to top.

At t >= 1 PCoder n updates its representation as

    rep_n = beta_n * ff_n + lambda_n * prd_{n+1} + (1 - beta_n - lambda_n) * rep_n - alpha_n * grd_n

(`pcgc.compute.dynamics`), so the memory weight 1 - beta - lambda must not be negative:
`memory_weight_ok` is the one place that rule lives, with its rounding tolerance. The config checks
(a named set, Figure 1's setting), the sweeps (which leave such grid cells out) and every
`HyperParameters` apply it.

`HyperParameters` is the one type of a setting, for a named set of the config, a sweep's grid cell
and the dynamics alike; `key` is its canonical text (equal keys, equal settings), which names sweep
chunks. Torch-free: the Snakefile plans sweeps with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

# beta + lambda may exceed 1 by rounding only (0.7 + 0.3 is 1.0000000000000002 in binary).
SUM_TOLERANCE = 1e-9


def memory_weight_ok(beta: float, lam: float) -> bool:
    """Whether beta + lambda <= 1, so that the memory weight 1 - beta - lambda is not negative."""
    return beta + lam <= 1 + SUM_TOLERANCE


def _number(value: float) -> str:
    return repr(float(value))


@dataclass(frozen=True)
class HyperParameters:
    """beta (feedforward), lambda (feedback) and alpha (error correction), one value per PCoder."""

    beta: tuple[float, ...]
    lam: tuple[float, ...]
    alpha: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.beta) == len(self.lam) == len(self.alpha)):
            raise ValueError(
                f"beta, lambda and alpha need one value per PCoder; got {len(self.beta)}, "
                f"{len(self.lam)} and {len(self.alpha)} values"
            )
        for n, (b, l, a) in enumerate(zip(self.beta, self.lam, self.alpha), start=1):
            if b < 0 or l < 0 or a < 0:
                raise ValueError(f"PCoder {n}: beta={b}, lambda={l}, alpha={a} must be non-negative")
            if not memory_weight_ok(b, l):
                raise ValueError(f"PCoder {n}: beta + lambda = {b} + {l} > 1 leaves a negative memory term")

    @property
    def num_pcoders(self) -> int:
        return len(self.beta)

    @classmethod
    def uniform(cls, num_pcoders: int, beta: float, lam: float, alpha: float) -> "HyperParameters":
        """Every PCoder at the same values."""
        return cls((beta,) * num_pcoders, (lam,) * num_pcoders, (alpha,) * num_pcoders)

    @classmethod
    def single_pcoder(cls, num_pcoders: int, active: int, beta: float, lam: float, alpha: float) -> "HyperParameters":
        """PCoder `active` (1-based) gets the values; the others beta=1, lambda=alpha=0 (frozen)."""
        if not 1 <= active <= num_pcoders:
            raise ValueError(f"active PCoder {active} is not in 1..{num_pcoders}")
        values = [(1.0, 0.0, 0.0)] * num_pcoders
        values[active - 1] = (beta, lam, alpha)
        b, l, a = zip(*values)
        return cls(b, l, a)

    @classmethod
    def from_dict(cls, entry: Mapping[str, Sequence[float]]) -> "HyperParameters":
        """A `{beta, lambda, alpha}` mapping of per-PCoder lists, as in the config and in manifests."""
        return cls(*(tuple(float(v) for v in entry[k]) for k in ("beta", "lambda", "alpha")))

    def as_dict(self) -> dict[str, Any]:
        return {"beta": list(self.beta), "lambda": list(self.lam), "alpha": list(self.alpha)}

    def without_top_feedback(self, has_feedback: Sequence[bool]) -> "HyperParameters":
        """The same setting with lambda = 0 where a PCoder gets no feedback (the top one ignores
        lambda, so settings that differ only there are one)."""
        lam = tuple(l if feedback else 0.0 for l, feedback in zip(self.lam, has_feedback))
        return HyperParameters(self.beta, lam, self.alpha)

    @property
    def key(self) -> str:
        """Canonical text: equal keys, equal settings."""
        return ";".join(
            f"{name}={','.join(map(_number, values))}"
            for name, values in (("beta", self.beta), ("lambda", self.lam), ("alpha", self.alpha))
        )
