"""What degrades the inputs of a branch: a Gaussian noise level, or an ImageNet-C corruption at a
severity. Torch-free: the Snakefile names and parses its paths with it.

Every file of a branch that runs the network on degraded inputs (inputs, extraction, scores,
bootstrap, sweeps) is keyed by one perturbation. Its *label* is the part of the path that names
it, and its *columns* identify it in the tables:

| perturbation | label (path) | columns |
|---|---|---|
| Gaussian noise of standard deviation sigma | `sigma{sigma}` (`sigma0`, `sigma0.25`) | `sigma` |
| ImageNet-C family at severity n | `corruptions/{family}/severity{n}` | `family`, `severity` |

The noise levels' labels and columns are those pcgc has always written, so that a configuration
without corruptions writes the same files with the same columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pcgc.spec.corruptions import FAMILIES, validate

# The labels as a Snakemake wildcard constraint (a noise level's digits, or a family and severity).
WILDCARD = r"sigma[0-9.e+-]+|corruptions/[a-z_]+/severity[1-5]"
_NOISE = re.compile(r"sigma([0-9.e+-]+)")
_CORRUPTION = re.compile(r"corruptions/([a-z_]+)/severity([1-5])")

NOISE_COLUMNS = ("sigma",)
CORRUPTION_COLUMNS = ("family", "severity")


def sigma_label(sigma: float) -> str:
    """The label text of a noise level: 0.0 -> '0', 0.25 -> '0.25' (6 significant digits)."""
    return f"{float(sigma):g}"


@dataclass(frozen=True)
class Perturbation:
    """A noise level (`sigma`) or a corruption (`family`, `severity`): exactly one of the two."""

    sigma: float | None = None
    family: str | None = None
    severity: int | None = None

    def __post_init__(self) -> None:
        if (self.sigma is None) == (self.family is None):
            raise ValueError(f"a perturbation is a noise level or a corruption, not {self!r}")
        if self.family is not None:
            validate(self.family, self.severity, "perturbation")
        elif self.severity is not None:
            raise ValueError(f"a noise level has no severity: {self!r}")
        elif self.sigma < 0:
            raise ValueError(f"a noise level is >= 0, got {self.sigma}")

    @classmethod
    def noise(cls, sigma: float) -> Perturbation:
        return cls(sigma=float(sigma))

    @classmethod
    def corruption(cls, family: str, severity: int) -> Perturbation:
        return cls(family=family, severity=severity)

    @classmethod
    def parse(cls, label: str) -> Perturbation:
        """The perturbation a label names (ValueError for any other text)."""
        noise = _NOISE.fullmatch(label)
        if noise:
            try:
                return cls.noise(float(noise.group(1)))
            except ValueError:
                pass
        corruption = _CORRUPTION.fullmatch(label)
        if corruption and corruption.group(1) in FAMILIES:
            return cls.corruption(corruption.group(1), int(corruption.group(2)))
        raise ValueError(f"{label!r} names no perturbation: sigma<level> or corruptions/<family>/severity<1-5>")

    @property
    def is_noise(self) -> bool:
        return self.sigma is not None

    @property
    def label(self) -> str:
        if self.is_noise:
            return f"sigma{sigma_label(self.sigma)}"
        return f"corruptions/{self.family}/severity{self.severity}"

    def columns(self) -> dict[str, Any]:
        """The table columns that identify the perturbation (in this order)."""
        if self.is_noise:
            return {"sigma": float(self.sigma)}
        return {"family": self.family, "severity": int(self.severity)}

    def describe(self) -> str:
        """In words, for figure titles and logs."""
        if self.is_noise:
            return "clean images" if self.sigma == 0 else f"Gaussian noise σ = {self.sigma:g}"
        return f"{self.family.replace('_', ' ')}, severity {self.severity}"
