"""The demo world end to end through Snakemake on a tiny configuration, and what reruns when."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.compute.cam_methods import METHODS
from tests.workflow_helpers import planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture
def workflow(tiny_workflow):
    """The tiny configuration's finished run (conftest.tiny_workflow, shared with test_report)."""
    return tiny_workflow


def test_outputs_exist_with_their_documented_layout(workflow):
    workdir, _ = workflow
    results = workdir / "results/tiny"
    with h5py.File(results / "extract/hps_0/sigma0.h5") as h5:
        # The default's CAMs: every method on the top layer and PCoder 4's (docs/gradcam-and-scoring.md, "CAM methods").
        assert sorted(h5["cams"]) == sorted(METHODS)
        for method in METHODS:
            assert list(h5[f"cams/{method}"]) == ["pcoder4", "pcoder5"]
            assert h5[f"cams/{method}/pcoder5"].shape == (8, 3, 6, 6)
            assert h5[f"cams/{method}/pcoder4"].shape == (8, 3, 12, 12)
        assert json.loads(h5.attrs["cams"]) == {"methods": list(METHODS), "layers": ["pcoder5", "pcoder4"]}
        change = h5["representation_change"][:]
        assert change.shape == (8, 3) and np.isnan(change[:, 0]).all() and (change[:, 1:] > 0).all()
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
    scores = pd.read_parquet(results / "scores/hps_0/sigma0.parquet")
    assert list(scores.columns) == [
        "hyperparameter_set", "sigma", "image_index", "image_id", "timestep", "method", "layer",
        "metric", "parameter", "value", "correct", "target_logit",
    ]
    assert set(scores["metric"]) == {"iou", "energy_pointing", "pointing_game", "auroc", "average_precision", "pxap"}
    methods = scores[["method", "layer"]].drop_duplicates()
    assert set(methods["method"]) == set(METHODS) and set(methods["layer"]) == {"pcoder4", "pcoder5"}
    # Every (method, layer) x per-image score (5) x image x state, plus PxAP per state.
    assert len(scores) == len(methods) * (5 * 8 * 3 + 3) and scores["value"].between(0, 1).all()
    assert (scores.loc[scores["metric"] == "pxap", "image_index"] == -1).all()
    summary = pd.read_csv(results / "bootstrap/hps_0/sigma0.csv")
    iou = summary[(summary["metric"] == "iou") & (summary["method"] == "gradcam") & (summary["layer"] == "pcoder5")]
    assert list(iou["timestep"]) == [0, 1, 2]
    # The bootstrap table's sample mean is the mean of the score table.
    rows = scores[(scores["metric"] == "iou") & (scores["method"] == "gradcam") & (scores["layer"] == "pcoder5")]
    np.testing.assert_allclose(iou["mean"], rows.groupby("timestep")["value"].mean().to_numpy())
    assert iou["p_holm"].iloc[1:].between(0, 1).all()
    figure_table = pd.read_csv(results / "figures/fig2.csv")
    assert len(figure_table) == 2 * 3 and figure_table["significant"].dtype == bool
    for name in ("fig1", "fig2", "fig3", "fig4", "diagnostics/hps_0/sigma0", "diagnostics/hps_1/sigma0"):
        for suffix in ("png", "pdf"):
            assert (results / f"figures/{name}.{suffix}").stat().st_size > 1000
    assert (results / "logs/extract/hps_0/sigma0.log").read_text().count("image-timesteps/s") == 1


def test_the_t0_state_is_shared_by_every_hyperparameter_set(workflow):
    workdir, _ = workflow
    with h5py.File(workdir / "results/tiny/extract/hps_0/sigma0.h5") as a, h5py.File(
        workdir / "results/tiny/extract/hps_1/sigma0.h5"
    ) as b:
        maps_a, maps_b = a["cams/gradcam/pcoder5"], b["cams/gradcam/pcoder5"]
        np.testing.assert_array_equal(maps_a[:, 0], maps_b[:, 0])
        assert not np.array_equal(maps_a[:, 2], maps_b[:, 2])


def test_a_second_run_has_nothing_to_do(workflow):
    assert planned_jobs(*workflow) == {}


def test_bootstrap_settings_rerun_only_bootstrap_and_figure(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["bootstrap"]["seed"] = 7
    assert planned_jobs(workdir, write_config(workdir, config, "bootstrap.yaml")) == {
        "bootstrap": 2, "fig2": 1, "sweep_summary": 3, "fig3": 1, "fig4": 1, "all": 1
    }


def test_a_metric_reruns_only_the_scoring_behind_it(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["scores"]["metrics"] = config["scores"]["metrics"][:-1]  # without PxAP
    # The diagnostics figure reads the score table for its IoU panel.
    assert planned_jobs(workdir, write_config(workdir, config, "metric.yaml")) == {
        "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2, "all": 1
    }
    config = tiny_config()
    config["scores"]["sweep_metrics"] = ["iou", "energy_pointing"]
    # The sweeps score inside their chunks: a sweep metric reruns the chunks and what reads them.
    assert planned_jobs(workdir, write_config(workdir, config, "sweep_metric.yaml")) == {
        "sweep_chunk": 5, "sweep_merge": 3, "sweep_maps": 1, "sweep_summary": 3, "fig3": 1, "fig4": 1, "all": 1
    }
    config = tiny_config()
    config["figures"]["fig2"].update(metric="auroc", parameter=None, alpha=0.01)
    assert planned_jobs(workdir, write_config(workdir, config, "fig2_metric.yaml")) == {"fig2": 1, "all": 1}


def test_a_new_noise_level_runs_only_its_branch(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["noise"]["sigmas"] = [0.0, 0.6]
    assert planned_jobs(workdir, write_config(workdir, config, "noise.yaml")) == {
        "noisy_inputs": 1, "extract": 2, "score": 2, "bootstrap": 2, "diagnostics": 2, "all": 1
    }


@pytest.mark.parametrize("cam", [{"methods": ["gradcam", "layercam"]}, {"layers": ["top"]}])
def test_the_cam_methods_and_layers_rerun_extraction_and_what_follows(workflow, cam):
    workdir, _ = workflow
    config = tiny_config()
    config["cam"].update(cam)
    assert planned_jobs(workdir, write_config(workdir, config, "cam.yaml")) == {
        "extract": 2, "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2, "all": 1
    }


def test_execution_settings_rerun_nothing(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["extraction"].update(batch_size=3, device="cpu", chunk_size=1)
    config["resources"].update(cpus=1, mem_mb=500, gpu_model="a100", runtime={"safety_factor": 10, "min_minutes": 99})
    assert planned_jobs(workdir, write_config(workdir, config, "execution.yaml")) == {}


def test_editing_pcgc_code_reruns_the_stages_behind_it(workflow):
    workdir, configfile = workflow
    source = workdir / "pcgc/compute/dynamics.py"
    original = source.read_text()
    try:
        source.write_text(original + "\n# a comment changes no behaviour\n")
        assert planned_jobs(workdir, configfile) == {}
        source.write_text(original + "\nUNUSED_CONSTANT = 1\n")
        assert planned_jobs(workdir, configfile) == {
            "extract": 2, "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2,
            "sweep_chunk": 5, "sweep_merge": 3, "sweep_maps": 1, "sweep_summary": 3, "fig3": 1, "fig4": 1,
            "fig1_cams": 1, "fig1": 1, "all": 1,
        }
    finally:
        source.write_text(original)
    assert planned_jobs(workdir, configfile) == {}


def test_the_sweep_tables(workflow):
    workdir, _ = workflow
    results = workdir / "results/tiny"
    scores = pd.read_parquet(results / "sweeps/fig3/sigma0/scores.parquet")
    assert len(scores) == 6 * 8 * 3  # cells x images x states (one threshold)
    assert sorted(scores.groupby(["pcoder", "beta", "lambda"]).groups) == [
        (1, 0.5, 0.0), (1, 0.5, 0.5), (1, 1.0, 0.0), (5, 0.5, 0.0), (5, 0.5, 0.5), (5, 1.0, 0.0)
    ]
    # t = 0 is the feedforward network: every cell's t = 0 IoU is that of the hyperparameter sets.
    extraction = pd.read_parquet(results / "scores/hps_0/sigma0.parquet")
    extraction = extraction[(extraction["metric"] == "iou") & (extraction["method"] == "gradcam") & (extraction["layer"] == "pcoder5")]
    first = extraction[extraction["timestep"] == 0].sort_values("image_index")
    for _, rows in scores[scores["timestep"] == 0].groupby(["pcoder", "beta", "lambda"]):
        rows = rows.sort_values("image_index")
        assert list(rows["image_id"].astype(str)) == list(first["image_id"])
        np.testing.assert_array_equal(rows["value"].to_numpy(), first["value"].to_numpy())
    summary = pd.read_csv(results / "sweeps/fig4/sigma0.3/summary.csv")
    assert len(summary) == 2 * 3 and (summary["n_images"] == 6).all()
    with h5py.File(results / "sweeps/fig3/sigma0/maps.h5") as h5:
        assert h5["cam_raw"].shape == (6, 8, 3, 6, 6)
    assert len(list((results / "sweeps/fig3/sigma0/chunks").glob("*.h5"))) == 3


def test_the_chunk_size_reruns_nothing(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["extraction"]["chunk_size"] = 3
    assert planned_jobs(workdir, write_config(workdir, config, "chunks.yaml")) == {}


def test_a_new_sweep_noise_level_plans_only_its_chunks(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["sweeps"]["fig4"]["sigmas"] = [0.0, 0.3, 0.6]
    assert planned_jobs(workdir, write_config(workdir, config, "sweep_noise.yaml")) == {
        "noisy_inputs": 1, "sweep_chunk": 1, "sweep_merge": 1, "sweep_summary": 1, "fig4": 1, "all": 1
    }


def test_a_new_grid_row_plans_only_its_chunks(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["sweeps"]["fig3"]["beta"] = [0.5, 0.75, 1.0]  # new cells: (0.75, 0) at PCoders 1 and 5
    assert planned_jobs(workdir, write_config(workdir, config, "grid_row.yaml")) == {
        "sweep_chunk": 1, "sweep_merge": 1, "sweep_maps": 1, "sweep_summary": 1, "fig3": 1, "all": 1
    }


@pytest.mark.parametrize("figure, setting", [("fig3", {"timesteps": [2]}), ("fig4", {"timesteps": [1]}), ("fig1", {"timesteps": [0, 2]})])
def test_a_figure_setting_reruns_only_its_figure(workflow, figure, setting):
    workdir, _ = workflow
    config = tiny_config()
    config["figures"][figure].update(setting)
    assert planned_jobs(workdir, write_config(workdir, config, f"{figure}.yaml")) == {figure: 1, "all": 1}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["hyperparameters"]["hps_0"]["lambda"].__setitem__(1, 0.9), r"hyperparameters\.hps_0\.lambda\[1\]: beta \+ lambda"),
        (lambda c: c["noise"].__setitem__("sigmas", [0.0, -0.2]), r"noise\.sigmas\[1\]: -0\.2 is less than the minimum of 0"),
        (lambda c: c["model"].__setitem__("spec", "resnet"), r"model\.spec: 'resnet' is not one of"),
        (lambda c: c["bootstrap"].pop("resamples"), r"bootstrap\.resamples: missing"),
        (lambda c: c["cam"].__setitem__("layers", ["top", "pcoder6"]), r"cam\.layers\[1\]: layer 'pcoder6': the network has 5 PCoders"),
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


def test_precision_reruns_every_stage_that_runs_the_network(workflow):
    workdir, _ = workflow
    config = tiny_config()
    config["model"]["precision"] = "bf16"
    assert planned_jobs(workdir, write_config(workdir, config, "precision.yaml")) == {
        "extract": 2, "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2,
        "sweep_chunk": 5, "sweep_merge": 3, "sweep_maps": 1, "sweep_summary": 3, "fig3": 1, "fig4": 1,
        "fig1_cams": 1, "fig1": 1, "all": 1,
    }
