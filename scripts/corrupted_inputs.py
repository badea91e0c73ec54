"""Snakemake job: normalized network inputs corrupted by one ImageNet-C family at one severity."""

from pathlib import Path

import torch

from pcgc.spec.networks import NETWORKS
from pcgc.stages import run_job
from pcgc.stages.corrupted_inputs import write_corrupted_inputs
from pcgc.storage.network_inputs import resolve_device


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    model = NETWORKS[snakemake.params.spec]
    write_corrupted_inputs(
        Path(snakemake.input.selection),
        Path(snakemake.output[0]),
        family=snakemake.params.family,
        severity=snakemake.params.severity,
        seed=snakemake.params.seed,
        frost_textures=snakemake.params.frost_textures,
        mean=model.mean,
        std=model.std,
        # The extraction's device, read from the config (not a param): the draws are taken on the
        # host, so the device changes float32 rounding at most, as it does for the extraction.
        device=resolve_device(snakemake.config["extraction"]["device"]),
    )


run_job(snakemake, main)
