"""The real pvgg16 spec through the whole workflow: weights fetched from a local server, a small
ImageNet-S tree in the official layout, 224 x 224 inputs, on the CPU."""

from __future__ import annotations

import json

import h5py
import pandas as pd
import pytest
import yaml

from tests.http_fixture import FileServer, Route
from tests.imagenet_s_fixture import build_imagenet_s_tree
from tests.workflow_helpers import REPO, copy_workflow, snakemake, write_config

pytestmark = pytest.mark.slow

TENCH, GOLDFISH = "n01440764", "n01443537"


def test_pvgg16_on_imagenet_s_fixture(tmp_path, weights):
    workdir = copy_workflow(tmp_path / "workflow")
    tree = build_imagenet_s_tree(
        tmp_path / "ImageNetS", [TENCH, GOLDFISH], 2, relabelled={(GOLDFISH, 0): TENCH}, size=(240, 300)
    )
    config = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    with FileServer() as server:
        backbone_url = server.add(f"/{weights['hashed_backbone'].name}", Route(file=weights["hashed_backbone"]))
        archive_url = server.add("/weights_pvgg16_imagenet.zip", Route(file=weights["zip"]))
        config["imagenet_s"].update(
            root=str(tree["root"]), categories=str(tree["categories_file"]), mapping=str(tree["mapping_file"])
        )
        config["weights"].update(
            directory=str(tmp_path / "weights"),
            backbone={"url": backbone_url, "path": None, "sha256": None},
            feedback_archive={"url": archive_url, "path": None, "sha256": None},
        )
        config["selection"]["n_images"] = 4
        config["noise"]["sigmas"] = [0.0]
        config["dynamics"]["timesteps"] = 2
        config["bootstrap"]["resamples"] = 50
        config["extraction"]["batch_size"] = 2
        # Grad-CAM only: the other methods are checked against pytorch-grad-cam in tests/test_cam.py.
        config["cam"]["methods"] = ["gradcam"]
        config["hyperparameters"] = {"hps_0": config["hyperparameters"]["hps_0"]}
        config["figures"]["fig2"]["hyperparameter_sets"] = ["hps_0"]
        # The sweep path on the real network: PCoders 1 and 5 at one cell, two images.
        config["sweeps"] = {"fig3": dict(config["sweeps"]["fig3"], pcoders=[1, 5], beta=[0.5], n_images=2, **{"lambda": [0.5]})}
        config["figures"].update(fig4=None, fig1=dict(config["figures"]["fig1"], images=1, sigma=0.0))
        configfile = write_config(workdir, config, "pvgg16.yaml")
        snakemake(workdir, configfile, "--replace-workflow-config")

    manifest = json.loads((tmp_path / "weights/manifest.json").read_text())
    assert manifest["backbone"]["sha256"] == weights["backbone_sha"]
    results = workdir / "results/paper"
    selection = pd.read_csv(results / "selection/selection.csv")
    # ImageNet-S ids 1, 2 are tench and goldfish, ImageNet-1k indices 0 and 1.
    assert sorted(selection["cam_target"]) == [0, 0, 1, 1]
    relabelled = selection[selection["wnid"] != selection["original_wnid"]]
    assert list(relabelled["original_wnid"]) == [TENCH] and list(relabelled["wnid"]) == [GOLDFISH]
    with h5py.File(results / "extract/hps_0/sigma0.h5") as h5:
        assert h5["cams/gradcam/pcoder5"].shape == (4, 3, 14, 14)
        assert h5["prediction_error"].shape == (4, 3, 5)
        assert json.loads(h5.attrs["model"])["name"] == "pvgg16"
        geometry = json.loads(h5.attrs["geometry"])
        assert (geometry["resize"], geometry["crop"]) == (224, 224)
    scores = pd.read_parquet(results / "scores/hps_0/sigma0.parquet")
    iou = scores[(scores["metric"] == "iou") & (scores["method"] == "gradcam") & (scores["layer"] == "pcoder5")]
    assert len(iou) == 4 * 3 and scores["value"].between(0, 1).all()
    summary = pd.read_csv(results / "bootstrap/hps_0/sigma0.csv")
    summary = summary[(summary["metric"] == "iou") & (summary["method"] == "gradcam") & (summary["layer"] == "pcoder5")]
    assert list(summary["timestep"]) == [0, 1, 2] and (summary["n_images"] == 4).all()
    swept = pd.read_parquet(results / "sweeps/fig3/sigma0/scores.parquet")
    assert len(swept) == 2 * 2 * 3 and swept["value"].between(0, 1).all()
    assert (results / "figures/fig3.png").is_file() and (results / "figures/fig1.png").is_file()
