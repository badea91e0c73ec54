"""Snakemake job: the mechanism's conditions of one hyperparameter set at one perturbation, every
condition's extraction file in one job (t = 0 computed once for all of them)."""

from pathlib import Path

import torch

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages import run_job
from pcgc.stages.extract import ImageSubset, extract_conditions
from pcgc.storage.network_inputs import NetworkInputs


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    extract_conditions(
        NetworkInputs.from_job(snakemake),
        hps_name=params.set_name,
        hps=HyperParameters.from_dict(params.hps),
        outputs={condition: Path(path) for condition, path in snakemake.output.items()},
        timesteps=params.timesteps,
        batch_size=snakemake.config["extraction"]["batch_size"],
        cams=params.cam,
        config=snakemake.config,
        control_seed=params.seed,
        shuffle_group=params.shuffle_group,
        recovery=params.recovery,
        clean_inputs_h5=Path(snakemake.input.clean),
        images=None if params.images is None else ImageSubset(**params.images),
    )


run_job(snakemake, main)
