"""The mechanism under an ImageNet-C corruption through the workflow, for real on the tiny world:
its four conditions at contrast 4 beside the clean run, its tables and its figures."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from tests.workflow_helpers import (
    copy_workflow,
    planned_jobs,
    report_contents,
    shared_tiny_config,
    snakemake,
    with_mechanism,
    write_config,
)

# Four tiny extractions (6 images, T = 2) and what follows them: about a minute here.
pytestmark = pytest.mark.slow

CONTRAST = "corruptions/contrast/severity4"
TABLES = ("recovery", "controls", "link", "per_image")
# The branch's figures: the run asks for these alone (the noise level's branch is not run).
TARGETS = [f"results/tiny/figures/{name}/{CONTRAST}.png" for name in ("mechanism", "controls")]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_workflow):
    """The shared tiny run's results (its world, weights and clean inputs) with the mechanism at
    contrast 4: only that branch runs."""
    workdir = copy_workflow(tmp_path_factory.mktemp("mechanism_corruption"))
    shutil.copytree(tiny_workflow[0] / "results/tiny", workdir / "results/tiny")
    config = with_mechanism(shared_tiny_config())
    config["mechanism"]["corruptions"] = {"contrast": [4]}
    configfile = write_config(workdir, config)
    assert planned_jobs(workdir, configfile, *TARGETS) == {
        "corrupted_inputs": 1, "extract_conditions": 1, "score": 4, "bootstrap": 4, "mechanism_stats": 1, "fig_mechanism": 1
    }
    # (A flag before the targets: --configfile takes every word up to the next option.)
    snakemake(workdir, configfile, "--printshellcmds", *TARGETS)
    return workdir / "results/tiny"


def test_the_corruption_branchs_tables_carry_family_and_severity(run):
    folder = run / "mechanism" / CONTRAST
    for name in TABLES:
        table = pd.read_csv(folder / f"{name}.csv")
        assert list(table.columns[:2]) == ["family", "severity"] and "sigma" not in table.columns
        assert set(table["family"]) == {"contrast"} and set(table["severity"]) == {4}
    recovery = pd.read_csv(folder / "recovery.csv")
    assert set(recovery["condition"]) == {"trained", "no_feedback", "random_feedback", "shuffled_feedback"}
    assert set(recovery["reference"]) == {"same_t", "clean_t0"}
    assert np.isfinite(recovery["mean"]).all() and np.isfinite(recovery["ratio_mean"]).all()
    # Contrast moves every PCoder's representation away from the clean image's at t = 0.
    first = recovery[(recovery["reference"] == "same_t") & (recovery["timestep"] == 0)]
    assert (first["mean"] > 0).all()
    with h5py.File(run / "extract/hps_0@trained" / f"{CONTRAST}.h5") as h5:
        d = h5["recovery/same_t"][:]
    rows = recovery[(recovery["condition"] == "trained") & (recovery["reference"] == "same_t") & (recovery["pcoder"] == "pcoder5")]
    np.testing.assert_allclose(rows.sort_values("timestep")["mean"], d[:, :, 4].astype(np.float64).mean(0))


def test_the_corruption_branchs_figures(run):
    for name in ("mechanism", "controls"):
        for suffix in ("png", "pdf"):
            assert (run / f"figures/{name}/{CONTRAST}.{suffix}").stat().st_size > 1000
    drawn = pd.read_csv(run / f"figures/controls/{CONTRAST}.csv")
    assert list(drawn.columns[1:3]) == ["family", "severity"] and set(drawn["family"]) == {"contrast"}


def test_the_report_shows_the_corruption_branch_by_family_and_severity(run):
    workdir = run.parents[1]
    page = workdir / "report.html"
    snakemake(workdir, workdir / "test.yaml", "--report", str(page), *TARGETS)
    contents = report_contents(page)
    figures, tables = contents["categories"]["Figures"]["Mechanism under corruptions"], contents["categories"]["Tables"]["Mechanism under corruptions"]
    assert sorted(figures) == sorted(f"results/tiny/figures/{name}/{CONTRAST}.{s}" for name in ("mechanism", "controls") for s in ("png", "pdf"))
    assert sorted(tables) == sorted(
        [*(f"results/tiny/mechanism/{CONTRAST}/{name}.csv" for name in TABLES), f"results/tiny/figures/controls/{CONTRAST}.csv"]
    )
    for path in [*figures, *tables]:
        item = contents["results"][path]
        assert {"family": "contrast", "severity": "4"}.items() <= item["labels"].items() and "sigma" not in item["labels"]
        assert "contrast at severity 4" in item["caption"] and "{{" not in item["caption"], (path, item["caption"])
