"""Snakemake job: draw the analysed images and fix their pixels, masks and Grad-CAM targets."""

from pathlib import Path

from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import ImageNetS, read_class_list
from pcgc.stages import run_job
from pcgc.stages.select_images import select_images


def main() -> None:
    world, selection = snakemake.params.world, snakemake.params.selection
    # The demo network classifies the dataset's own classes; PVGG16 the 1000 ImageNet-1k classes.
    classifier_wnids = read_class_list(world["categories"]) if world["classifier"] == "dataset" else None
    dataset = ImageNetS(
        world["root"],
        world["categories"],
        subset=world["subset"],
        mapping_file=world["mapping"],
        classifier_wnids=classifier_wnids,
    )
    select_images(
        dataset,
        n_images=selection["n_images"],
        seed=selection["seed"],
        geometry=Geometry(resize=selection["resize"], crop=selection["crop"]),
        cam_target=selection["cam_target"],
        out_h5=Path(snakemake.output.h5),
        out_table=Path(snakemake.output.table),
        description=world,
    )


run_job(snakemake, main)
