"""The corruption branches through the workflow: what each configuration edit reruns (stubbed
jobs), and a tiny run end to end whose noise outputs are those of the run without corruptions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.analysis.robustness import robustness_tables
from tests.workflow_helpers import (
    copy_workflow,
    planned_jobs,
    report_contents,
    shared_tiny_config,
    snakemake,
    stub_jobs,
    tiny_config,
    with_corruptions,
    without_sweeps,
    write_config,
)

pytestmark = pytest.mark.slow

REPLACE = "--replace-workflow-config"
# The demo's corruptions (config.yaml): motion blur and contrast at severities 2 and 4, on hps_0.
BRANCHES = 4
PER_BRANCH = ("extract", "score", "bootstrap")
SUMMARY = {"robustness": 1, "fig_corruptions": 1, "all": 1}


def corrupted(edit=None):
    config = with_corruptions(without_sweeps(tiny_config()))
    if edit is not None:
        edit(config)
    return config


def planned(workdir, config, name="edit.yaml"):
    return planned_jobs(workdir, write_config(workdir, config, name), REPLACE)


@pytest.fixture(scope="module")
def stubbed(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("corruptions"))
    stub_jobs(workdir)
    configfile = write_config(workdir, corrupted())
    snakemake(workdir, configfile, REPLACE)
    assert planned_jobs(workdir, configfile, REPLACE) == {}
    return workdir


def test_the_branches_of_the_demos_corruptions(stubbed):
    # From scratch: 4 inputs, and each of the 4 branches through extract, score and bootstrap.
    config = corrupted()
    config["results"] = "results/fresh"
    jobs = planned(stubbed, config)
    for rule in ("corrupted_inputs", *PER_BRANCH):
        assert jobs[rule] == BRANCHES + (2 if rule in PER_BRANCH else 0), rule  # + hps_0, hps_1 at sigma 0
    assert jobs["robustness"] == jobs["fig_corruptions"] == 1


def test_corruptions_off_or_on_leave_the_noise_branches_alone(stubbed):
    # Off: nothing to run (the noise branches' jobs and parameters are the same).
    assert planned(stubbed, corrupted(lambda c: c["corruptions"].update(families=None))) == {}
    assert planned(stubbed, corrupted(lambda c: c["corruptions"].update(analysis=None))) == {}
    # The noise branches' CAMs rerun the noise branches only.
    assert planned(stubbed, corrupted(lambda c: c["cam"].update(methods=["gradcam"]))) == {
        "extract": 2, "score": 2, "bootstrap": 2, "fig2": 1, "diagnostics": 2, "all": 1
    }


def test_a_new_family_or_severity_runs_only_its_branches(stubbed):
    fog = corrupted(lambda c: c["corruptions"]["families"].update(fog=[1, 3]))
    assert planned(stubbed, fog) == {"corrupted_inputs": 2, **{rule: 2 for rule in PER_BRANCH}, **SUMMARY}
    severity = corrupted(lambda c: c["corruptions"]["families"].update(contrast=[2, 4, 5]))
    assert planned(stubbed, severity) == {"corrupted_inputs": 1, **{rule: 1 for rule in PER_BRANCH}, **SUMMARY}
    # A family fewer: the summaries only (its files stay, unused).
    fewer = corrupted(lambda c: c["corruptions"]["families"].pop("contrast"))
    assert planned(stubbed, fewer) == SUMMARY


def test_each_analysis_setting_reruns_only_what_reads_it(stubbed):
    every_branch = {rule: BRANCHES for rule in PER_BRANCH}
    for edit in (
        lambda c: c["corruptions"]["analysis"]["cam"].update(methods=["gradcam", "layercam"]),
        lambda c: c["corruptions"]["analysis"].update(images=5),
    ):
        assert planned(stubbed, corrupted(edit)) == {**every_branch, **SUMMARY}
    # The seed: the random family's inputs (motion blur), and what follows them.
    assert planned(stubbed, corrupted(lambda c: c["corruptions"].update(seed=3))) == {
        "corrupted_inputs": 2, **{rule: 2 for rule in PER_BRANCH}, **SUMMARY
    }
    assert planned(stubbed, corrupted(lambda c: c["corruptions"]["analysis"].update(alexnet_normalization=True))) == SUMMARY
    # Another set: its branches and summaries, the first set's untouched.
    assert planned(stubbed, corrupted(lambda c: c["corruptions"]["analysis"].update(hyperparameter_sets=["hps_0", "hps_1"]))) == {
        **every_branch, "robustness": 1, "fig_corruptions": 1, "all": 1
    }
    assert planned(stubbed, corrupted(lambda c: c["figures"]["corruptions"].update(timesteps=[2]))) == {"fig_corruptions": 1, "all": 1}
    # Not drawn: nothing to run (the figures already drawn stay, unused).
    assert planned(stubbed, corrupted(lambda c: c["figures"].update(corruptions=None))) == {}
    # The bootstrap settings: every bootstrap, noise and corruption alike, and what reads them.
    assert planned(stubbed, corrupted(lambda c: c["bootstrap"].update(seed=9))) == {
        "bootstrap": 2 + BRANCHES, "fig2": 1, **SUMMARY
    }


def test_the_robustness_code_reruns_the_summaries_only(stubbed):
    source = stubbed / "pcgc/analysis/robustness.py"
    original = source.read_text()
    try:
        source.write_text(original + "\nUNUSED_CONSTANT = 1\n")
        assert planned(stubbed, corrupted()) == SUMMARY
    finally:
        source.write_text(original)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["corruptions"]["analysis"].update(hyperparameter_sets=["hps_7"]),
         r"corruptions\.analysis\.hyperparameter_sets\[0\]: 'hps_7' is not a set in `hyperparameters`"),
        (lambda c: c["figures"]["corruptions"].update(families=["fog"]),
         r"figures\.corruptions\.families\[0\]: 'fog' is not a family of corruptions\.families"),
        (lambda c: c["corruptions"]["families"].update(smoke=[1]), r"corruptions\.families\.smoke: unknown corruption family"),
        (lambda c: c["corruptions"]["families"].update(fog=[6]), r"corruptions\.families\.fog\[0\]: 6 is greater than the maximum of 5"),
    ],
)
def test_bad_corruption_settings_stop_before_any_job(stubbed, edit, message):
    config = corrupted(edit)
    config["results"] = "results/bad"
    result = snakemake(stubbed, write_config(stubbed, config, "bad.yaml"), REPLACE, check=False)
    assert result.returncode != 0 and re.search(message, result.stdout + result.stderr), result.stdout + result.stderr
    assert not (stubbed / "results/bad").exists()


# -- a real run ----------------------------------------------------------------------------------

SWEEP = {
    "kind": "shared", "beta": [0.5], "lambda": [0.0, 0.5], "alpha": 0.01, "sigmas": [],
    "corruptions": {"contrast": [2, 4]}, "n_images": 4, "store_maps": "none",
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_workflow):
    """The shared tiny run's configuration with the demo's corruptions, a shared sweep at contrast
    2 and 4 and its Figure 4, run for real; and the shared run without them."""
    workdir = copy_workflow(tmp_path_factory.mktemp("corrupted_run"))
    config = with_corruptions(shared_tiny_config())
    config["sweeps"]["corrupted"] = SWEEP
    config["figures"]["fig4_corruptions"] = {"sweep": "corrupted", "threshold": 0.5, "timesteps": "all"}
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile)
    return workdir / "results/tiny", tiny_workflow[0] / "results/tiny"


def test_the_noise_outputs_are_those_of_the_run_without_corruptions(run):
    ours, theirs = run
    for relative in ("scores/hps_0/sigma0.parquet", "bootstrap/hps_1/sigma0.csv", "figures/fig2.csv", "sweeps/fig4/sigma0.3/summary.csv"):
        read = pd.read_parquet if relative.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(read(ours / relative), read(theirs / relative), check_exact=True)
    with h5py.File(ours / "extract/hps_0/sigma0.h5") as a, h5py.File(theirs / "extract/hps_0/sigma0.h5") as b:
        for name in ("cams/gradcam/pcoder5", "top1", "target_logit"):
            np.testing.assert_array_equal(a[name][:], b[name][:])


def test_the_corruption_branches_and_their_tables(run):
    results, _ = run
    with h5py.File(results / "extract/hps_0/corruptions/contrast/severity4.h5") as h5:
        assert list(h5["cams"]) == ["gradcam"] and list(h5["cams/gradcam"]) == ["pcoder5"]
        assert len(h5["image_id"]) == 6 and h5["top1"].shape == (6, 3)
        assert json.loads(h5.attrs["corruption"])["family"] == "contrast" and "noise" not in h5.attrs
    scores = pd.read_parquet(results / "scores/hps_0/corruptions/motion_blur/severity2.parquet")
    assert list(scores.columns[:3]) == ["hyperparameter_set", "family", "severity"] and "sigma" not in scores.columns
    assert set(scores["family"]) == {"motion_blur"} and set(scores["severity"]) == {2}
    summary = pd.read_csv(results / "bootstrap/hps_0/corruptions/motion_blur/severity2.csv")
    assert list(summary.columns[:3]) == ["hyperparameter_set", "family", "severity"]
    # The robustness tables: errors from the extraction files, computed directly.
    errors = pd.read_csv(results / "robustness/hps_0/errors.csv")
    ce = pd.read_csv(results / "robustness/hps_0/ce.csv")
    wrong = {}
    for family in ("motion_blur", "contrast"):
        for severity in (2, 4):
            with h5py.File(results / f"extract/hps_0/corruptions/{family}/severity{severity}.h5") as h5:
                wrong[(family, severity)] = h5["top1"][:] != h5["cam_target"][:][:, None]
    direct_errors, direct_ce = robustness_tables(wrong, resamples=50, seed=0)
    np.testing.assert_allclose(errors["error"], direct_errors["error"])
    np.testing.assert_allclose(ce["ce"], direct_ce["ce"])
    assert list(ce["family"].unique()) == ["motion_blur", "contrast", "all"] and set(ce["label"]) == {"imagenet_s"}
    localisation = pd.read_csv(results / "robustness/hps_0/localisation.csv")
    assert len(localisation) == BRANCHES * len(summary) and set(localisation["group"]) == {"blur", "digital"}
    curves = pd.read_csv(results / "figures/corruptions/hps_0/curves.csv")
    assert set(curves["family"]) == {"motion_blur", "contrast", "all"} and len(curves) == 3 * 3
    for name in ("heatmap", "curves"):
        for suffix in ("png", "pdf"):
            assert (results / f"figures/corruptions/hps_0/{name}.{suffix}").stat().st_size > 1000


def test_a_sweep_at_corruptions(run):
    results, theirs = run
    summary = pd.read_csv(results / "sweeps/corrupted/corruptions/contrast/severity2/summary.csv")
    assert list(summary.columns[:4]) == ["sweep", "kind", "family", "severity"] and len(summary) == 2 * 3
    # The same grid plans the same chunks (their names hash the configurations alone).
    chunks = sorted(p.name for p in (results / "sweeps/corrupted/corruptions/contrast/severity4/chunks").glob("*.h5"))
    assert chunks == sorted(p.name for p in (results / "sweeps/corrupted/corruptions/contrast/severity2/chunks").glob("*.h5"))
    # The noise sweeps' chunks are those of the run without corruptions.
    assert sorted(p.name for p in (results / "sweeps/fig4/sigma0.3/chunks").glob("*")) == sorted(
        p.name for p in (theirs / "sweeps/fig4/sigma0.3/chunks").glob("*")
    )
    for suffix in ("png", "pdf"):
        assert (results / f"figures/fig4_corruptions/contrast.{suffix}").stat().st_size > 1000


def test_the_report_shows_the_corruption_figures_with_their_captions(run):
    results, _ = run
    workdir = results.parents[1]
    page = workdir / "report.html"
    snakemake(workdir, workdir / "test.yaml", "--report", str(page))
    contents = report_contents(page)
    figures, tables = contents["categories"]["Figures"], contents["categories"]["Tables"]
    assert sorted(figures["Corruption summaries"]) == sorted(
        f"results/tiny/figures/corruptions/hps_0/{name}.{suffix}" for name in ("heatmap", "curves") for suffix in ("png", "pdf")
    )
    assert sorted(figures["Corruption sweeps"]) == [f"results/tiny/figures/fig4_corruptions/contrast.{s}" for s in ("pdf", "png")]
    assert len(tables["Corruptions"]) == BRANCHES and len(tables["Corruption sweeps"]) == 2
    assert {Path(p).name for p in tables["Corruption summaries"]} == {"errors.csv", "ce.csv", "localisation.csv", "curves.csv"}
    # Each branch's table is labelled by its set, family and severity; the noise levels' as before.
    labels = [contents["results"][p]["labels"] for p in tables["Corruptions"]]
    assert sorted((lab["set"], lab["family"], lab["severity"]) for lab in labels) == [
        ("hps_0", "contrast", "2"), ("hps_0", "contrast", "4"), ("hps_0", "motion_blur", "2"), ("hps_0", "motion_blur", "4")
    ]
    assert all(contents["results"][p]["labels"].keys() == {"set", "sigma"} for p in tables["Hyperparameter sets"])
    for path in [*figures["Corruption summaries"], *tables["Corruptions"], *tables["Corruption summaries"]]:
        caption = contents["results"][path]["caption"]
        assert "{{" not in caption and "{%" not in caption and "hps_0" in caption, (path, caption)
    curves = contents["results"]["results/tiny/figures/corruptions/hps_0/curves.png"]["caption"]
    assert "CE_f(t) / CE_f(0)" in curves and "motion_blur, contrast" in curves
