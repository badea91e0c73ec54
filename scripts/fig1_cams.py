"""Snakemake job: Grad-CAMs over time of Figure 1's images."""

from pathlib import Path

import torch

from pcgc.stages import run_job
from pcgc.stages.fig1_cams import figure1_cams
from pcgc.storage.network_inputs import NetworkInputs


def main() -> None:
    torch.set_num_threads(snakemake.threads)
    figure = snakemake.params.figure
    figure1_cams(
        NetworkInputs.from_job(snakemake),
        beta=figure["beta"],
        lam=figure["lambda"],
        alpha=figure["alpha"],
        images=figure["images"],
        seed=figure["seed"],
        timesteps=snakemake.params.timesteps,
        thresholds=list(snakemake.params.thresholds),
        out_h5=Path(snakemake.output[0]),
        config=snakemake.config,
    )


run_job(snakemake, main)
