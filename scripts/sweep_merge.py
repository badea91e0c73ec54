"""Snakemake job: a sweep's chunks -> one long score table for one perturbation (noise level or corruption)."""

from pathlib import Path

from pcgc.spec.sweeps import Cell
from pcgc.stages import run_job
from pcgc.stages.sweep_merge import merge_sweep


def main() -> None:
    merge_sweep(
        [Path(p) for p in snakemake.input],
        [Cell.from_dict(entry) for entry in snakemake.params.cells],
        sweep=snakemake.wildcards.sweep,
        kind=snakemake.params.kind,
        perturbation=snakemake.params.perturbation,
        out_table=Path(snakemake.output[0]),
    )


run_job(snakemake, main)
