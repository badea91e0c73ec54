"""Snakemake job: one chunk of a sweep (configurations x images x timesteps), scored on the device."""

from pathlib import Path

import torch

from pcgc.spec.metrics import Score
from pcgc.spec.sweeps import HyperParameters
from pcgc.stages import run_job
from pcgc.stages.sweep_chunk import run_chunk
from pcgc.storage.network_inputs import NetworkInputs


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    run_chunk(
        NetworkInputs.from_job(snakemake),
        configurations=[HyperParameters.from_dict(entry) for entry in params.configurations],
        n_images=params.n_images,
        image_seed=params.image_seed,
        timesteps=params.timesteps,
        scores=[Score.from_dict(entry) for entry in params.scores],
        store_maps=params.store_maps,
        batch_size=snakemake.config["extraction"]["batch_size"],
        out_h5=Path(snakemake.output.h5),
        out_manifest=Path(snakemake.output.manifest),
        config=snakemake.config,
    )


run_job(snakemake, main)
