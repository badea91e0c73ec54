"""The corruption stages on small files in the workflow's formats: robustness (errors, CE, mCE and
the joined bootstrap tables), the corruption figures and their table, Figure 4 per family."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from pcgc.analysis.robustness import family_score_table, robustness_tables
from pcgc.spec.perturbations import Perturbation
from pcgc.stages.bootstrap import summarize
from pcgc.stages.fig4_corruptions import figure4_corruption
from pcgc.stages.fig_corruptions import corruption_figures
from pcgc.stages.robustness import robustness
from pcgc.storage.h5io import STRING, string_array, write_json_attrs

IMAGES, STATES = 12, 3
BRANCHES = [Perturbation.corruption("fog", 1), Perturbation.corruption("fog", 3), Perturbation.corruption("contrast", 2)]
SETTINGS = {"resamples": 40, "seed": 0, "confidence": 0.9}


def write_branch(folder, perturbation, seed, image_ids=None):
    """An extraction file (top-1 class and label) and a long score table (IoU at 0.5 of Grad-CAM
    at pcoder5, and of eigencam) of one corruption branch."""
    rng = np.random.default_rng(seed)
    ids = image_ids or [f"img_{i:02d}" for i in range(IMAGES)]
    extraction = folder / f"{perturbation.family}{perturbation.severity}.h5"
    top1 = rng.integers(0, 3, (IMAGES, STATES))
    with h5py.File(extraction, "w") as h5:
        h5.create_dataset("image_id", data=string_array(ids), dtype=STRING)
        h5.create_dataset("top1", data=top1.astype("i4"))
        h5.create_dataset("cam_target", data=np.zeros(IMAGES, dtype=np.int64))
        write_json_attrs(h5, {"corruption": perturbation.columns(), "cam_target": "imagenet_s"})
    rows = [
        {"hyperparameter_set": "hps_0", **perturbation.columns(), "image_index": i, "image_id": ids[i], "timestep": t,
         "method": method, "layer": "pcoder5", "metric": "iou", "parameter": 0.5,
         "value": rng.random(), "correct": bool(top1[i, t] == 0), "target_logit": 0.0}
        for method in ("gradcam", "eigencam") for i in range(IMAGES) for t in range(STATES)
    ]
    scores = folder / f"{perturbation.family}{perturbation.severity}.parquet"
    pd.DataFrame(rows).to_parquet(scores)
    summary = folder / f"{perturbation.family}{perturbation.severity}.csv"
    summarize(scores, summary, **SETTINGS, hyperparameter_set="hps_0", perturbation=perturbation.columns())
    return extraction, scores, summary


@pytest.fixture
def branches(tmp_path):
    files = [write_branch(tmp_path, p, seed) for seed, p in enumerate(BRANCHES)]
    return tmp_path, [list(column) for column in zip(*files)]


def run_robustness(folder, extractions, summaries, **others):
    outputs = [folder / name for name in ("errors.csv", "ce.csv", "localisation.csv")]
    robustness(extractions, summaries, [p.columns() for p in BRANCHES], *outputs, hyperparameter_set="hps_0",
               **{**SETTINGS, "alexnet": False, **others})
    return [pd.read_csv(path) for path in outputs]


def test_robustness_reads_the_errors_and_joins_the_localisation(branches):
    folder, (extractions, _, summaries) = branches
    errors, ce, localisation = run_robustness(folder, extractions, summaries)
    wrong = {}
    for path, p in zip(extractions, BRANCHES):
        with h5py.File(path) as h5:
            wrong[(p.family, p.severity)] = h5["top1"][:] != 0
    direct_errors, direct_ce = robustness_tables(wrong, **SETTINGS)
    assert list(errors.columns[:4]) == ["hyperparameter_set", "family", "group", "severity"]
    np.testing.assert_allclose(errors["error"], direct_errors["error"])
    np.testing.assert_allclose(errors["ratio_ci_high"], direct_errors["ratio_ci_high"])
    np.testing.assert_allclose(ce["ce"], direct_ce["ce"])
    assert set(errors["label"]) == {"imagenet_s"} and (errors["hyperparameter_set"] == "hps_0").all()
    # Every branch's bootstrap table, one after the other, with its family's group.
    assert len(localisation) == 3 * 2 * STATES
    assert list(localisation.columns[:5]) == ["hyperparameter_set", "family", "group", "severity", "method"]
    assert localisation.groupby(["family", "severity"]).size().to_dict() == {("contrast", 2): 6, ("fog", 1): 6, ("fog", 3): 6}


def test_branches_of_other_images_or_another_corruption_are_refused(tmp_path, branches):
    folder, (extractions, _, summaries) = branches
    (tmp_path / "other").mkdir()
    other, _, _ = write_branch(tmp_path / "other", BRANCHES[2], 5, image_ids=[f"x{i}" for i in range(IMAGES)])
    with pytest.raises(ValueError, match="its images are not those of"):
        run_robustness(folder, [*extractions[:2], other], summaries)
    with pytest.raises(ValueError, match=r"holds fog at severity 3, expected \{'family': 'fog', 'severity': 1\}"):
        run_robustness(folder, [extractions[1], extractions[1], extractions[2]], summaries)
    with pytest.raises(ValueError, match="not the bootstrap table of fog at severity 1"):
        run_robustness(folder, extractions, [summaries[1], summaries[1], summaries[2]])


def test_the_figures_and_their_table(branches):
    folder, (extractions, scores, summaries) = branches
    _, ce, _ = run_robustness(folder, extractions, summaries)
    heatmap = [folder / "heatmap.png", folder / "heatmap.pdf"]
    curves = [folder / "curves.png", folder / "curves.pdf"]
    corruption_figures(
        folder / "ce.csv", folder / "localisation.csv", scores, [p.columns() for p in BRANCHES], heatmap, curves,
        folder / "curves.csv", hyperparameter_set="hps_0", families=["fog", "contrast"], method="gradcam",
        layer="pcoder5", metric="iou", parameter=0.5, timesteps=[1, 2], **SETTINGS,
    )
    for path in [*heatmap, *curves]:
        assert path.stat().st_size > 1000
    table = pd.read_csv(folder / "curves.csv")
    assert list(table["family"].unique()) == ["fog", "contrast", "all"] and len(table) == 3 * STATES
    # The CE side is the robustness table's; the score side the family summary of Grad-CAM's IoU.
    merged = table.merge(ce, on=["family", "timestep"])
    np.testing.assert_allclose(merged["ce_ratio"], merged["ratio"])
    values = {}
    for path, p in zip(scores, BRANCHES):
        rows = pd.read_parquet(path).query("method == 'gradcam'")
        values[(p.family, p.severity)] = rows.pivot(index="image_id", columns="timestep", values="value").to_numpy()
    direct = family_score_table(values, **SETTINGS)
    np.testing.assert_allclose(table["score_ratio"], direct["ratio"])
    np.testing.assert_allclose(table["score_mean"], direct["mean"])
    assert (table["score_n_excluded"] == 0).all() and set(table["method"]) == {"gradcam"}


def test_the_heatmap_reads_each_branchs_ratio(branches):
    from pcgc.stages.fig_corruptions import heatmap_values

    folder, (extractions, _, summaries) = branches
    _, _, localisation = run_robustness(folder, extractions, summaries)
    values, severities = heatmap_values(localisation, folder, ["fog", "contrast"], [1, 2], method="eigencam",
                                        layer="pcoder5", metric="iou", parameter=0.5)
    assert severities == [1, 2, 3] and values.shape == (2, 2, 3)
    fog3 = localisation.query("family == 'fog' and severity == 3 and method == 'eigencam' and timestep == 2")
    assert values[1, 0, 2] == pytest.approx(fog3["ratio_mean"].item())
    # contrast ran at severity 2 only; fog at 1 and 3.
    assert np.isnan(values[:, 1, [0, 2]]).all() and np.isnan(values[:, 0, 1]).all()


def test_figure4_per_family_checks_its_summaries(tmp_path):
    rows = [
        {"sweep": "s", "kind": "shared", "family": "fog", "severity": severity, "pcoder": None, "beta": 0.5,
         "lambda": lam, "alpha": 0.01, "metric": "iou", "parameter": 0.5, "timestep": t, "ratio_mean": 1 + 0.1 * t * lam}
        for severity in (2, 4) for lam in (0.0, 0.5) for t in range(STATES)
    ]
    summaries = {}
    for severity in (2, 4):
        summaries[severity] = tmp_path / f"{severity}.csv"
        pd.DataFrame([r for r in rows if r["severity"] == severity]).to_csv(summaries[severity], index=False)
    paths = [tmp_path / "fig.png", tmp_path / "fig.pdf"]
    figure4_corruption(summaries, paths, betas=[0.5], lambdas=[0.0, 0.5], threshold=0.5, timesteps="all", sweep="s", family="fog")
    assert all(path.stat().st_size > 1000 for path in paths)
    with pytest.raises(ValueError, match=r"holds \[\('fog', 2\)\], not fog at severity 4"):
        figure4_corruption({4: summaries[2]}, paths, betas=[0.5], lambdas=[0.0, 0.5], threshold=0.5, timesteps="all", sweep="s", family="fog")
