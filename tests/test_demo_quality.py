"""The default configuration, end to end: the demo world must be worth analysing.

Its network must classify held-out clean images at >= 90% top-1, and its t = 0 Grad-CAM must reach
a mean IoU of >= 0.3 on clean images (the paper's level on real data). The run is the Quickstart's
first command, so it also checks that it draws Figures 1-4, the mechanism's and the corruptions'
figures; it takes as long as the demo
(docs/demo.md, "Run time").
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.workflow_helpers import copy_workflow, default_config, snakemake, write_config

pytestmark = pytest.mark.slow


def test_default_demo_world_is_learnable_and_localisable(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    configfile = write_config(workdir, default_config(), "default.yaml")
    snakemake(workdir, configfile)
    results = workdir / "results/demo"
    training = json.loads((results / "weights/training.json").read_text())
    assert training["held_out_images"] == 360
    assert training["held_out_top1"] >= 0.90, training
    for hps in ("hps_0", "hps_1"):
        summary = pd.read_csv(results / f"bootstrap/{hps}/sigma0.csv")
        t0 = summary[summary["timestep"] == 0].iloc[0]
        assert t0["n_images"] == 300
        assert t0["mean"] >= 0.30, summary
        assert t0["accuracy"] >= 0.90
    figures = ("fig1", "fig2", "fig3", "fig4", "mechanism/sigma0.4", "controls/sigma0.4", "corruptions/hps_0/heatmap", "corruptions/hps_0/curves")
    for figure in figures:
        assert (results / f"figures/{figure}.png").is_file() and (results / f"figures/{figure}.pdf").is_file()
