"""Snakemake job: dynamics + Grad-CAM at every timestep for one hyperparameter set and noise level."""

from pathlib import Path

import torch

from pcgc.dynamics import HyperParameters
from pcgc.stages.extract import extract
from pcgc.workflow import run_job


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    execution = snakemake.config["extraction"]
    extract(
        inputs_h5=Path(snakemake.input.inputs),
        selection_h5=Path(snakemake.input.selection),
        backbone_path=Path(snakemake.input.backbone),
        pmodule_paths=[Path(p) for p in snakemake.input.pmodules],
        spec=snakemake.params.spec,
        gradient_scaling=snakemake.params.gradient_scaling,
        hps_name=snakemake.wildcards.hps,
        hps=HyperParameters.from_config(snakemake.params.hps),
        timesteps=snakemake.params.timesteps,
        device=execution["device"],
        batch_size=execution["batch_size"],
        out_h5=Path(snakemake.output[0]),
        config=snakemake.config,
    )


run_job(snakemake, main)
