"""The demo world end to end through Snakemake on a tiny configuration, and what reruns when."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.workflow_helpers import copy_workflow, planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A private copy of the workflow, run once to completion on the tiny configuration."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    configfile = write_config(workdir, tiny_config())
    snakemake(workdir, configfile)
    return workdir, configfile


def test_outputs_exist_with_their_documented_layout(workflow):
    workdir, _ = workflow
    results = workdir / "results/tiny"
    with h5py.File(results / "extract/hps_0/sigma0.h5") as h5:
        assert h5["cam_raw"].shape == (8, 3, 6, 6)
        assert h5["target_logit"].shape == (8, 3)
        assert h5["top1"].shape == (8, 3)
        assert h5["prediction_error"].shape == (8, 3, 5)
        assert len(h5["image_id"]) == 8
        assert json.loads(h5.attrs["hyperparameters"])["beta"] == [0.2, 0.4, 0.4, 0.5, 0.6]
        assert json.loads(h5.attrs["timesteps"]) == 2
        assert json.loads(h5.attrs["cam_target"]) == "imagenet_s"
        assert json.loads(h5.attrs["noise"])["sigma"] == 0.0
        assert "torch" in json.loads(h5.attrs["versions"])
        assert json.loads(h5.attrs["config"])["dynamics"] == {"timesteps": 2}
    scores = pd.read_parquet(results / "iou/hps_0/sigma0.parquet")
    assert len(scores) == 8 * 3 and scores["iou"].between(0, 1).all()
    summary = pd.read_csv(results / "bootstrap/hps_0/sigma0.csv")
    assert list(summary["timestep"]) == [0, 1, 2]
    # The bootstrap table's sample mean is the mean of the IoU table.
    np.testing.assert_allclose(summary["mean"], scores.groupby("timestep")["iou"].mean().to_numpy())
    for suffix in ("png", "pdf"):
        assert (results / f"figures/fig2.{suffix}").stat().st_size > 1000
    assert (results / "logs/extract/hps_0/sigma0.log").read_text().count("image-timesteps/s") == 1


def test_the_t0_state_is_shared_by_every_hyperparameter_set(workflow):
    workdir, _ = workflow
    with h5py.File(workdir / "results/tiny/extract/hps_0/sigma0.h5") as a, h5py.File(
        workdir / "results/tiny/extract/hps_1/sigma0.h5"
    ) as b:
        np.testing.assert_array_equal(a["cam_raw"][:, 0], b["cam_raw"][:, 0])
        assert not np.array_equal(a["cam_raw"][:, 2], b["cam_raw"][:, 2])


def test_a_second_run_has_nothing_to_do(workflow):
    assert planned_jobs(*workflow) == {}


def test_bootstrap_settings_rerun_only_bootstrap_and_figure(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["bootstrap"]["seed"] = 7
    assert planned_jobs(workdir, write_config(workdir, config, "bootstrap.yaml")) == {
        "bootstrap": 2, "fig2": 1, "all": 1
    }


def test_a_new_noise_level_runs_only_its_branch(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["noise"]["sigmas"] = [0.0, 0.3]
    assert planned_jobs(workdir, write_config(workdir, config, "noise.yaml")) == {
        "noisy_inputs": 1, "extract": 2, "iou": 2, "bootstrap": 2, "all": 1
    }


def test_execution_settings_rerun_nothing(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["extraction"].update(batch_size=3, device="cpu")
    assert planned_jobs(workdir, write_config(workdir, config, "execution.yaml")) == {}


def test_editing_pcgc_code_reruns_the_stages_behind_it(workflow):
    workdir, configfile = workflow
    source = workdir / "pcgc/dynamics.py"
    original = source.read_text()
    try:
        source.write_text(original + "\n# a comment changes no behaviour\n")
        assert planned_jobs(workdir, configfile) == {}
        source.write_text(original + "\nUNUSED_CONSTANT = 1\n")
        assert planned_jobs(workdir, configfile) == {
            "extract": 2, "iou": 2, "bootstrap": 2, "fig2": 1, "all": 1
        }
    finally:
        source.write_text(original)
    assert planned_jobs(workdir, configfile) == {}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["hyperparameters"]["hps_0"]["lambda"].__setitem__(1, 0.9), r"hyperparameters\.hps_0\.lambda\[1\]: beta \+ lambda"),
        (lambda c: c["noise"].__setitem__("sigmas", [0.0, -0.2]), r"noise\.sigmas\[1\]: -0\.2 is less than the minimum of 0"),
        (lambda c: c["model"].__setitem__("spec", "resnet"), r"model\.spec: 'resnet' is not one of"),
        (lambda c: c["bootstrap"].pop("resamples"), r"bootstrap\.resamples: missing"),
    ],
)
def test_bad_config_stops_before_any_job(workflow, edit, message):
    workdir, _ = workflow
    config = tiny_config()
    config["results"] = "results/bad"
    edit(config)
    # --replace-workflow-config: the file alone, not merged over config.yaml's defaults.
    result = snakemake(workdir, write_config(workdir, config, "bad.yaml"), "--replace-workflow-config", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr
    assert not (workdir / "results/bad").exists()
