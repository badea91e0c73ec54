"""Sweeps: grids of coefficient configurations, and how they are split into jobs.

A sweep (`sweeps.<name>` in the config) is one of two kinds:

* `single_pcoder`: for each PCoder k of `pcoders`, every (beta, lambda) of the grid with PCoder k
  at (beta, lambda, alpha) and every other PCoder frozen (beta = 1, lambda = alpha = 0);
* `shared`: every PCoder at the same (beta, lambda, alpha).

Cells with beta + lambda > 1 would give a negative memory weight: they are not run (and figures
draw them dark). A cell's configuration is its per-PCoder `HyperParameters`; the top PCoder has no
feedback, so its lambda is ignored and cells that differ only there are one configuration,
computed once.

**Chunks.** A sweep job (a chunk) computes a list of configurations at one perturbation (a noise
level of `sigmas`, or a corruption of `corruptions` in its place: `sweep_perturbations`). Its file
name is a hash of that list alone and a manifest beside it (`<chunk>.json`) lists them, so the plan of a
run (`plan_chunks`) first keeps the chunks already on disk that cover wanted configurations, then
splits only the configurations not yet covered into new chunks of `chunk_size`. Hence changing the
chunk size reruns nothing, and adding a noise level or a row to a grid adds only the new chunks.
Re-planning after some new chunks finished (a cluster job parses the workflow again) gives the
same remaining chunks: they are consecutive blocks of the uncovered list, all of `chunk_size`
except the last.

This module imports neither torch nor h5py: the Snakefile plans with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pcgc.spec.corruptions import FAMILIES
from pcgc.spec.hyperparameters import HyperParameters, memory_weight_ok
from pcgc.spec.perturbations import Perturbation

KINDS = ("single_pcoder", "shared")


def grid_values(spec: Sequence[float] | Mapping[str, float]) -> tuple[float, ...]:
    """A grid axis: a list of values, or `{start, stop, step}` (stop included when on the grid).

    Ranges are computed in decimal, so `{start: 0, stop: 1, step: 0.1}` gives 0.1, 0.2, 0.3 and not
    0.30000000000000004.
    """
    if isinstance(spec, Mapping):
        start, stop, step = (Decimal(str(spec[k])) for k in ("start", "stop", "step"))
        if step <= 0:
            raise ValueError(f"grid step must be > 0, got {spec['step']}")
        count = int((stop - start) / step) + 1
        values = tuple(float(start + i * step) for i in range(max(count, 0)))
    else:
        values = tuple(float(v) for v in spec)
    if not values:
        raise ValueError(f"grid {spec!r} has no values")
    if list(values) != sorted(set(values)):
        raise ValueError(f"grid values must be increasing and distinct, got {list(values)}")
    return values


@dataclass(frozen=True)
class Cell:
    """One point of a sweep's grid."""

    pcoder: int | None
    """The active PCoder (1-based) of a single_pcoder sweep; None in a shared sweep (all PCoders)."""
    beta: float
    lam: float
    alpha: float
    configuration: HyperParameters

    def as_dict(self) -> dict[str, Any]:
        """The grid coordinates (as table columns) and the configuration they run."""
        return {
            "pcoder": self.pcoder, "beta": self.beta, "lambda": self.lam, "alpha": self.alpha,
            "configuration": self.configuration.as_dict(),
        }

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> "Cell":
        return cls(entry["pcoder"], entry["beta"], entry["lambda"], entry["alpha"], HyperParameters.from_dict(entry["configuration"]))


def sweep_cells(sweep: Mapping[str, Any], has_feedback: Sequence[bool]) -> list[Cell]:
    """The runnable cells of a sweep, in order: PCoder, then beta, then lambda.

    `has_feedback[n]` says whether PCoder n + 1 receives feedback (False for the top one).
    """
    count = len(has_feedback)
    betas, lams = grid_values(sweep["beta"]), grid_values(sweep["lambda"])
    alpha = float(sweep["alpha"])
    if sweep["kind"] == "single_pcoder":
        active: list[int | None] = list(sweep["pcoders"])
        for k in active:
            if not 1 <= k <= count:
                raise ValueError(f"PCoder {k} is not in 1..{count}")
    elif sweep["kind"] == "shared":
        active = [None]
    else:
        raise ValueError(f"unknown sweep kind {sweep['kind']!r}; known: {', '.join(KINDS)}")
    cells = []
    for pcoder in active:
        for beta in betas:
            for lam in lams:
                if not memory_weight_ok(beta, lam):
                    continue
                if pcoder is None:
                    setting = HyperParameters.uniform(count, beta, lam, alpha)
                else:
                    setting = HyperParameters.single_pcoder(count, pcoder, beta, lam, alpha)
                # The top PCoder ignores lambda: one configuration for all its lambdas.
                cells.append(Cell(pcoder, beta, lam, alpha, setting.without_top_feedback(has_feedback)))
    return cells


def sweep_perturbations(sweep: Mapping[str, Any]) -> list[Perturbation]:
    """What a sweep's grid runs at: its noise levels, then its corruptions (`{family: [severities]}`,
    in the catalogue's order of families), each a branch of its own."""
    corruptions = sweep.get("corruptions") or {}
    return [Perturbation.noise(sigma) for sigma in sweep["sigmas"]] + [
        Perturbation.corruption(family, severity)
        for family in FAMILIES
        if family in corruptions
        for severity in sorted(corruptions[family])
    ]


def unique_configurations(cells: Sequence[Cell]) -> list[HyperParameters]:
    """The distinct configurations of `cells`, in order of first appearance."""
    seen: dict[str, HyperParameters] = {}
    for cell in cells:
        seen.setdefault(cell.configuration.key, cell.configuration)
    return list(seen.values())


def image_subset(count: int, n_images: int | str, seed: int) -> np.ndarray:
    """Indices (sorted) of the selected images an analysis runs on (a sweep, the mechanism's
    conditions): all, or a seeded random subset of `n_images` of the `count` selected."""
    if n_images == "all":
        return np.arange(count)
    if not isinstance(n_images, int) or not 1 <= n_images <= count:
        raise ValueError(f"n_images: {n_images!r} images asked for, but the selection has {count}")
    return np.sort(np.random.default_rng(seed).permutation(count)[:n_images])


def chunk_name(configurations: Sequence[HyperParameters]) -> str:
    """A chunk's name: a hash of the list of its configurations."""
    text = "\n".join(c.key for c in configurations)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_chunks(
    configurations: Sequence[HyperParameters],
    existing: Mapping[str, Sequence[HyperParameters]],
    chunk_size: int,
) -> dict[str, tuple[HyperParameters, ...]]:
    """Chunk name -> its configurations, covering every configuration of `configurations`.

    Existing chunks are kept (in name order) where they cover a configuration not yet covered;
    the rest are split, in the given order, into new chunks of `chunk_size`.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    wanted = {c.key for c in configurations}
    covered: set[str] = set()
    plan: dict[str, tuple[HyperParameters, ...]] = {}
    for name in sorted(existing):
        keys = {c.key for c in existing[name]} & wanted
        if keys - covered:
            plan[name] = tuple(existing[name])
            covered |= keys
    rest = [c for c in configurations if c.key not in covered]
    for start in range(0, len(rest), chunk_size):
        block = tuple(rest[start : start + chunk_size])
        plan[chunk_name(block)] = block
    return plan


def manifest_text(configurations: Sequence[HyperParameters]) -> str:
    """A chunk's manifest (`<chunk>.json`): the configurations it computes, in order."""
    return json.dumps({"configurations": [c.as_dict() for c in configurations]}, indent=1)


def read_manifest(path: Path) -> tuple[HyperParameters, ...]:
    try:
        entries = json.loads(Path(path).read_text())["configurations"]
        return tuple(HyperParameters.from_dict(entry) for entry in entries)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a sweep chunk manifest ({error}); remove it and its .h5 to recompute") from None


def existing_chunks(folder: Path) -> dict[str, tuple[HyperParameters, ...]]:
    """The finished chunks in `folder`: a manifest and its `.h5` beside it."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {
        manifest.stem: read_manifest(manifest)
        for manifest in sorted(folder.glob("*.json"))
        if manifest.with_suffix(".h5").is_file()
    }
