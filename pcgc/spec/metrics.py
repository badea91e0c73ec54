"""What a score is, without torch: the metrics' names, their parameters and whether they have one
value per image, and `Score` (a metric at a parameter).

The Snakefile and the config checks read this (a workflow parse must not import torch: every
cluster job parses again); `pcgc.analysis.metrics.METRICS` holds the computations, one per entry of
`METRIC_KINDS` (checked when `pcgc.analysis.metrics` is imported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence


@dataclass(frozen=True)
class MetricKind:
    parameter: str | None
    """What the parameter is ("threshold", "tolerance"), None for a metric without one."""
    per_image: bool
    """False for a dataset-level metric (PxAP): one value per timestep over all images."""
    meaning: str


DATASET_ROW = -1
"""`image_index` of a dataset-level score's rows in the score tables (pcgc.stages.score)."""


METRIC_KINDS: dict[str, MetricKind] = {
    "iou": MetricKind("threshold", True, "IoU of {map >= threshold} with the object"),
    "energy_pointing": MetricKind(None, True, "share of the map's mass on the object (Wang et al. 2020)"),
    "pointing_game": MetricKind("tolerance", True, "maximum on the object, within tolerance pixels (Zhang et al. 2016)"),
    "auroc": MetricKind(None, True, "pixel ROC AUC of the map against the object, per image"),
    "average_precision": MetricKind(None, True, "pixel average precision of the map against the object, per image"),
    "pxap": MetricKind(None, False, "pixel average precision over the dataset's pooled pixels (Choe et al. 2020)"),
}

# Where a metric's parameter values come from in config section `scores`.
PARAMETER_KEYS = {"threshold": "thresholds", "tolerance": "pointing_tolerances"}


@dataclass(frozen=True)
class Score:
    """One number per map (or per dataset, for PxAP): `metric` at `parameter` (the IoU's threshold,
    the pointing game's tolerance in pixels; None for metrics without one)."""

    metric: str
    parameter: float | None

    def __post_init__(self) -> None:
        if self.metric not in METRIC_KINDS:
            raise ValueError(f"unknown metric {self.metric!r}; known: {sorted(METRIC_KINDS)}")
        kind = METRIC_KINDS[self.metric].parameter
        if (kind is not None) != (self.parameter is not None):
            what = f"a {kind}" if kind else "no parameter"
            raise ValueError(f"metric {self.metric!r} takes {what}, got {self.parameter!r}")

    @property
    def per_image(self) -> bool:
        return METRIC_KINDS[self.metric].per_image

    def as_dict(self) -> dict:
        return {"metric": self.metric, "parameter": self.parameter}

    @classmethod
    def from_dict(cls, entry: Mapping[str, Any]) -> "Score":
        return cls(entry["metric"], None if entry["parameter"] is None else float(entry["parameter"]))


def iou_scores(thresholds: Sequence[float]) -> list[Score]:
    return [Score("iou", float(t)) for t in thresholds]


def configured_scores(settings: Mapping[str, Any], metrics: Sequence[str] | None = None) -> list[Score]:
    """The scores of config section `scores` (`metrics`, `thresholds`, `pointing_tolerances`), in
    the order of its metrics; `metrics` picks a subset of them (the sweeps')."""
    chosen = list(settings["metrics"] if metrics is None else metrics)
    unknown = [m for m in chosen if m not in METRIC_KINDS]
    if unknown:
        raise ValueError(f"scores: unknown metric(s) {unknown}; known: {sorted(METRIC_KINDS)}")
    scores = []
    for name in chosen:
        kind = METRIC_KINDS[name].parameter
        scores += [Score(name, float(p)) for p in settings[PARAMETER_KEYS[kind]]] if kind else [Score(name, None)]
    return scores
