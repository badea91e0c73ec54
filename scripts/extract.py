"""Snakemake job: dynamics + the configured CAMs at every timestep for one hyperparameter set and perturbation."""

from pathlib import Path

import torch

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages import run_job
from pcgc.stages.extract import ImageSubset, extract
from pcgc.storage.network_inputs import NetworkInputs


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    extract(
        NetworkInputs.from_job(snakemake),
        hps_name=snakemake.wildcards.hps,
        hps=HyperParameters.from_dict(snakemake.params.hps),
        timesteps=snakemake.params.timesteps,
        batch_size=snakemake.config["extraction"]["batch_size"],
        out_h5=Path(snakemake.output[0]),
        cams=snakemake.params.cam,
        config=snakemake.config,
        images=None if snakemake.params.images is None else ImageSubset(**snakemake.params.images),
    )


run_job(snakemake, main)
