"""Snakemake job: the raw maps a sweep kept (store_maps), gathered into one file per noise level."""

from pathlib import Path

from pcgc.spec.sweeps import Cell
from pcgc.stages import run_job
from pcgc.stages.sweep_maps import merge_maps


def main() -> None:
    merge_maps(
        [Path(p) for p in snakemake.input],
        [Cell.from_dict(entry) for entry in snakemake.params.cells],
        Path(snakemake.output[0]),
    )


run_job(snakemake, main)
