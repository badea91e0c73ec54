"""Snakemake job: one chunk of a sweep (configurations x images x timesteps), scored on the device."""

from pathlib import Path

import torch

from pcgc.stages.sweep_chunk import run_chunk
from pcgc.sweeps import Configuration
from pcgc.workflow import run_job


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    execution = snakemake.config["extraction"]
    params = snakemake.params
    run_chunk(
        inputs_h5=Path(snakemake.input.inputs),
        selection_h5=Path(snakemake.input.selection),
        backbone_path=Path(snakemake.input.backbone),
        pmodule_paths=[Path(p) for p in snakemake.input.pmodules],
        spec=params.spec,
        gradient_scaling=params.gradient_scaling,
        configurations=[Configuration.from_dict(entry) for entry in params.configurations],
        n_images=params.n_images,
        image_seed=params.image_seed,
        timesteps=params.timesteps,
        thresholds=list(params.thresholds),
        store_maps=params.store_maps,
        device=execution["device"],
        batch_size=execution["batch_size"],
        out_h5=Path(snakemake.output.h5),
        out_manifest=Path(snakemake.output.manifest),
        config=snakemake.config,
    )


run_job(snakemake, main)
