"""Snakemake job: the mechanism's tables at one noise level or corruption (recovery, controls against the real dynamics, link, per image)."""

from pathlib import Path

from pcgc.stages import run_job
from pcgc.stages.mechanism_stats import mechanism_statistics


def main() -> None:
    params = snakemake.params
    conditions = params.conditions
    mechanism_statistics(
        {c: Path(snakemake.input.extractions[k]) for k, c in enumerate(conditions)},
        {c: Path(snakemake.input.scores[k]) for k, c in enumerate(conditions)},
        {name: Path(getattr(snakemake.output, name)) for name in ("recovery", "controls", "link", "per_image")},
        metric=params.metric,
        parameter=params.parameter,
        resamples=params.bootstrap["resamples"],
        seed=params.bootstrap["seed"],
        confidence=params.bootstrap["confidence"],
        perturbation=params.perturbation,
    )


run_job(snakemake, main)
