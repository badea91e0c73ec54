"""PEfficientNet-B0 through the whole workflow on the CPU: its real architecture on random weights
served in Predify's and timm's formats from a local server, a small ImageNet-S tree in the official
layout, 64 x 64 inputs; every CAM method on the top PCoder, the head layer and a lower PCoder;
scores, bootstrap, Figures 1-4 (Figure 3 with all eight PCoders), diagnostics and the report."""

from __future__ import annotations

import json

import h5py
import pandas as pd
import pytest
import yaml

from pcgc.compute.cam_methods import METHODS
from tests.http_fixture import FileServer, Route
from tests.imagenet_s_fixture import build_imagenet_s_tree
from tests.workflow_helpers import REPO, copy_workflow, report_contents, snakemake, write_config

pytestmark = pytest.mark.slow

TENCH, GOLDFISH = "n01440764", "n01443537"
LAYERS = ["top", "head", "pcoder1"]


def test_pefficientnet_b0_on_imagenet_s_fixture(tmp_path, pefficientnet_weights):
    workdir = copy_workflow(tmp_path / "workflow")
    tree = build_imagenet_s_tree(
        tmp_path / "ImageNetS", [TENCH, GOLDFISH], 2, relabelled={(GOLDFISH, 0): TENCH}, size=(80, 96)
    )
    config = yaml.safe_load((REPO / "config/pefficientnet_b0.yaml").read_text())
    with FileServer() as server:
        backbone_url = server.add(f"/{pefficientnet_weights['hashed_backbone'].name}", Route(file=pefficientnet_weights["hashed_backbone"]))
        archive_url = server.add("/weights_pefficientNetB0_imagenet.zip", Route(file=pefficientnet_weights["zip"]))
        config["imagenet_s"].update(root=str(tree["root"]), categories=str(tree["categories_file"]), mapping=str(tree["mapping_file"]))
        config["weights"].update(
            directory=str(tmp_path / "weights"),
            backbone={"url": backbone_url, "path": None, "sha256": None},
            feedback_archive={"url": archive_url, "path": None, "sha256": None},
        )
        config["selection"].update(n_images=4, resize=64, crop=64)
        config["noise"]["sigmas"] = [0.0, 0.3]
        config["dynamics"]["timesteps"] = 2
        config["bootstrap"]["resamples"] = 50
        config["extraction"]["batch_size"] = 2
        config["resources"]["cpus"] = 1
        config["cam"].update(methods=list(METHODS), layers=LAYERS)
        config["figures"]["fig2"].update(layer="head")
        # Figure 3 with its eight rows at one cell, Figure 4 on a 2 x 1 grid, two images each.
        config["sweeps"]["fig3"].update(beta=[0.5], n_images=2, **{"lambda": [0.5]})
        config["sweeps"]["fig4"].update(beta=[0.5, 1.0], sigmas=[0.3], n_images=2, **{"lambda": [0.0]})
        config["figures"]["fig1"].update(images=1, sigma=0.3)
        configfile = write_config(workdir, config, "pefficientnet_b0.yaml")
        snakemake(workdir, configfile)
        page = workdir / "report.html"
        snakemake(workdir, configfile, "--report", str(page))

    results = workdir / "results/pefficientnet_b0"
    assert json.loads((tmp_path / "weights/manifest.json").read_text())["spec"] == "pefficientnet_b0"
    with h5py.File(results / "extract/hps_0/sigma0.3.h5") as h5:
        # At 64 x 64: the top PCoder and the head layer at 2 x 2, PCoder 1 at 32 x 32.
        for method in METHODS:
            assert h5[f"cams/{method}/pcoder8"].shape == (4, 3, 2, 2)
            assert h5[f"cams/{method}/head"].shape == (4, 3, 2, 2)
            assert h5[f"cams/{method}/pcoder1"].shape == (4, 3, 32, 32)
        assert h5["prediction_error"].shape == (4, 3, 8)
        model = json.loads(h5.attrs["model"])
        assert model["name"] == "pefficientnet_b0" and model["head_layer"] == "bn2" and len(model["pcoders"]) == 8
    scores = pd.read_parquet(results / "scores/hps_0/sigma0.3.parquet")
    assert set(scores["layer"]) == {"pcoder8", "head", "pcoder1"} and set(scores["method"]) == set(METHODS)
    iou = scores[(scores["metric"] == "iou") & (scores["method"] == "gradcam") & (scores["layer"] == "head")]
    assert len(iou) == 4 * 3 and scores["value"].dropna().between(0, 1).all()
    summary = pd.read_csv(results / "bootstrap/hps_1/sigma0.csv")
    summary = summary[(summary["metric"] == "iou") & (summary["method"] == "gradcam") & (summary["layer"] == "head")]
    assert list(summary["timestep"]) == [0, 1, 2] and (summary["n_images"] == 4).all()
    fig3 = pd.read_csv(results / "sweeps/fig3/sigma0/summary.csv")
    assert sorted(set(fig3["pcoder"])) == list(range(1, 9))
    fig4 = pd.read_parquet(results / "sweeps/fig4/sigma0.3/scores.parquet")
    assert len(fig4) == 2 * 2 * 3
    for figure in ("fig1", "fig2", "fig3", "fig4"):
        assert (results / f"figures/{figure}.png").is_file(), figure
    assert len(list((results / "figures/diagnostics").rglob("*.png"))) == 2 * 2  # per set and noise level
    reported = report_contents(page)["results"]
    for figure in ("fig1", "fig2", "fig3", "fig4"):
        assert any(path.endswith(f"figures/{figure}.png") for path in reported), (figure, sorted(reported)[:10])
