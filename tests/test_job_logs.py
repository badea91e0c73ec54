"""What a rule's log file says: what the job did, and how far a long job has come while it runs."""

from __future__ import annotations

import logging
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from tqdm import tqdm

from pcgc.data.demo_world import DemoWorldConfig, generate_demo_world
from pcgc.stages import run_job
from pcgc.stages.fig2 import figure2


@pytest.fixture
def job_log(tmp_path):
    """A rule's log file, with the root logger restored after run_job reconfigures it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield tmp_path / "job.log"
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level


def test_progress_reaches_the_log_while_the_job_runs(job_log):
    seen, stderr = [], sys.stderr

    def job():
        for _ in tqdm(range(5), desc="extract hps_0", file=sys.stderr, mininterval=0):
            pass
        seen.append(job_log.read_text())

    run_job(SimpleNamespace(log=[str(job_log)], rule="extract"), job)
    assert "extract hps_0: 100%" in seen[0] and "5/5" in seen[0], seen[0]
    assert sys.stderr is stderr


def test_the_demo_world_log_says_what_was_built(job_log, tmp_path):
    world = DemoWorldConfig(seed=1, num_classes=2, train_per_class=2, val_per_class=1, image_height=64, image_width=64)
    run_job(SimpleNamespace(log=[str(job_log)], rule="demo_world"), lambda: generate_demo_world(tmp_path / "world", world))
    assert "demo world: 2 classes, 4 training and 2 validation images of 64 x 64 (seed 1)" in job_log.read_text()


def test_the_figure_2_log_says_what_was_drawn(job_log, tmp_path):
    summary = tmp_path / "sigma0.csv"
    pd.DataFrame({"method": "gradcam", "layer": "pcoder5", "metric": "iou", "parameter": 0.5, "timestep": [0, 1, 2],
                  "mean": [0.5, 0.55, 0.6], "boot_sd": 0.01, "ci_low": 0.4, "ci_high": 0.7, "p_holm": [np.nan, 0.2, 0.01]}).to_csv(summary, index=False)
    out = [tmp_path / "fig2.png"]
    run_job(
        SimpleNamespace(log=[str(job_log)], rule="fig2"),
        lambda: figure2({"hps_0": summary}, out, tmp_path / "fig2.csv", method="gradcam", layer="pcoder5", metric="iou",
                        parameter=0.5, alpha=0.05, perturbation={"sigma": 0.0}, error="boot_sd"),
    )
    text = job_log.read_text()
    assert "hps_0" in text and "mean iou 0.500 at t = 0, 0.600 at t = 2" in text and f"wrote {out[0]}" in text
    assert "differs from t = 0 (Holm p < 0.05) at t = [2]" in text
