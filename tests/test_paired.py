"""Paired statistics against t = 0 (Holm, rank-biserial, Wilcoxon) and the bootstrap stage's table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.analysis.paired import holm, paired_against_first, rank_biserial
from pcgc.stages.bootstrap import summarize


def test_holm_by_hand():
    # Sorted: 0.01 * 4, 0.02 * 3, 0.03 * 2, 0.5 * 1 -> 0.04, 0.06, 0.06, 0.5; back in the given order.
    np.testing.assert_allclose(holm(np.array([0.03, 0.01, 0.5, 0.02])), [0.06, 0.04, 0.5, 0.06])
    # Capped at 1, and monotone: a larger p never gets a smaller adjusted value.
    np.testing.assert_allclose(holm(np.array([0.4, 0.3])), [0.6, 0.6])
    with pytest.raises(ValueError, match="p-values"):
        holm(np.array([0.2, 1.5]))


def test_rank_biserial_by_hand():
    # |d| ranks: 1 -> 1, 2 -> 2, 3 -> 3 (zero dropped); R+ = 1 + 3, R- = 2 -> (4 - 2) / 6.
    assert rank_biserial(np.array([1.0, -2.0, 3.0, 0.0])) == pytest.approx(1 / 3)
    assert rank_biserial(np.array([0.5, 0.1])) == 1.0
    assert np.isnan(rank_biserial(np.zeros(3)))


FIXED = np.array(
    [
        [0.30, 0.34, 0.40, 0.30],
        [0.52, 0.50, 0.61, 0.52],
        [0.41, 0.47, 0.49, 0.41],
        [0.22, 0.25, 0.31, 0.22],
        [0.65, 0.66, 0.70, 0.65],
        [0.48, 0.45, 0.58, 0.48],
        [0.37, 0.44, 0.43, 0.37],
        [0.59, 0.63, 0.72, 0.59],
    ]
)


def test_paired_statistics_equal_a_direct_scipy_computation():
    table = paired_against_first(FIXED, resamples=200, seed=3, confidence=0.9)
    assert list(table["timestep"]) == [0, 1, 2, 3]
    assert table.loc[0, "delta_mean"] == 0 and np.isnan(table.loc[0, "p_value"])
    p = []
    for t in (1, 2):
        d = FIXED[:, t] - FIXED[:, 0]
        direct = wilcoxon(FIXED[:, t], FIXED[:, 0])  # scipy's own paired form
        assert table.loc[t, "wilcoxon_statistic"] == direct.statistic
        assert table.loc[t, "p_value"] == pytest.approx(direct.pvalue, rel=1e-12)
        assert table.loc[t, "delta_mean"] == pytest.approx(d.mean())
        p.append(direct.pvalue)
    # t = 3 equals t = 0 for every image: nothing to test, p = 1.
    assert table.loc[3, "p_value"] == 1.0 and table.loc[3, "n_nonzero"] == 0
    p.append(1.0)
    ranked = sorted(p)
    expected = np.maximum.accumulate([min(1, (3 - j) * q) for j, q in enumerate(ranked)])
    np.testing.assert_allclose(table["p_holm"][1:], [expected[ranked.index(q)] for q in p])
    # Every image rises at t = 2: the largest effect, and a significant change.
    assert table.loc[2, "rank_biserial"] == 1.0 and table.loc[2, "p_holm"] < 0.05
    # The change's bootstrap uses the same resamples as the scores' own bootstrap.
    boot = bootstrap_timesteps(FIXED - FIXED[:, :1], resamples=200, seed=3, confidence=0.9)
    np.testing.assert_array_equal(table["delta_boot_sd"], boot["boot_sd"])
    np.testing.assert_array_equal(table["delta_ci_low"], boot["ci_low"])


def test_the_bootstrap_stage_summarises_every_score_of_the_long_table(tmp_path):
    rows = []
    for i, per_step in enumerate(FIXED):
        for t, value in enumerate(per_step):
            for metric, parameter, v in (("iou", 0.5, value), ("auroc", np.nan, np.nan if i == 2 else 1 - value)):
                rows.append(dict(image_index=i, image_id=f"img_{i}", timestep=t, metric=metric, parameter=parameter, value=v, correct=i % 2 == 0, target_logit=1.0))
    for t in range(4):
        rows.append(dict(image_index=-1, image_id=None, timestep=t, metric="pxap", parameter=np.nan, value=0.4 + 0.1 * t, correct=None, target_logit=np.nan))
    table = pd.DataFrame(rows).assign(method="gradcam", layer="pcoder5", hyperparameter_set="hps_0", sigma=0.0)
    table["correct"] = table["correct"].astype("boolean")
    table.to_parquet(tmp_path / "scores.parquet")
    summarize(tmp_path / "scores.parquet", tmp_path / "summary.csv", resamples=50, seed=0, confidence=0.95, hyperparameter_set="hps_0", perturbation={"sigma": 0.0})
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert len(summary) == 3 * 4
    iou = summary[summary["metric"] == "iou"].reset_index(drop=True)
    np.testing.assert_allclose(iou["mean"], FIXED.mean(0))
    np.testing.assert_allclose(iou["p_value"], paired_against_first(FIXED, resamples=50, seed=0, confidence=0.95)["p_value"])
    assert (iou["accuracy"] == 0.5).all() and (iou["n_excluded"] == 0).all()
    # Image 2's AUROC is undefined: left out, and counted.
    auroc = summary[summary["metric"] == "auroc"]
    assert (auroc["n_excluded"] == 1).all() and (auroc["n_images"] == 7).all()
    np.testing.assert_allclose(auroc["mean"], (1 - np.delete(FIXED, 2, axis=0)).mean(0))
    # PxAP: one value per timestep, its change from t = 0, no resampling.
    pxap = summary[summary["metric"] == "pxap"]
    np.testing.assert_allclose(pxap["mean"], [0.4, 0.5, 0.6, 0.7])
    np.testing.assert_allclose(pxap["delta_mean"], [0, 0.1, 0.2, 0.3])
    assert pxap["boot_sd"].isna().all() and pxap["p_value"].isna().all()


def test_figure2_marks_and_tabulates_the_significant_timesteps(tmp_path):
    from pcgc.stages.fig2 import figure2

    summaries = {}
    for name, shift in (("hps_0", 0.0), ("hps_1", 0.05)):
        rows = [
            dict(image_index=i, image_id=f"img_{i}", timestep=t, metric="iou", parameter=0.5, value=v + shift * t, correct=True, target_logit=1.0)
            for i, per_step in enumerate(FIXED) for t, v in enumerate(per_step)
        ]
        pd.DataFrame(rows).assign(method="gradcam", layer="pcoder5").to_parquet(tmp_path / f"{name}.parquet")
        summaries[name] = tmp_path / f"{name}.csv"
        summarize(tmp_path / f"{name}.parquet", summaries[name], resamples=50, seed=0, confidence=0.95, hyperparameter_set=name, perturbation={"sigma": 0.0})
    out = [tmp_path / "fig2.png", tmp_path / "fig2.pdf"]
    figure2(summaries, out, tmp_path / "fig2.csv", method="gradcam", layer="pcoder5", metric="iou", parameter=0.5, alpha=0.05, perturbation={"sigma": 0.0}, error="boot_sd")
    assert all(path.stat().st_size > 1000 for path in out)
    table = pd.read_csv(tmp_path / "fig2.csv")
    assert len(table) == 8 and list(table["significant"]) == list(table["p_holm"] < 0.05)
    assert table["significant"].any() and not table["significant"].all()
    with pytest.raises(ValueError, match="no rows for layer 'pcoder3'; present: \\['pcoder5'\\]"):
        figure2(summaries, out, tmp_path / "x.csv", method="gradcam", layer="pcoder3", metric="iou", parameter=0.5, alpha=0.05, perturbation={"sigma": 0.0}, error="boot_sd")


def test_a_figures_title_names_the_noise_level_or_the_corruption():
    from pcgc.stages.fig2 import perturbation_text

    # The noise levels' titles as they were before corruptions had figures of their own.
    assert perturbation_text({"sigma": 0.0}) == "clean images"
    assert perturbation_text({"sigma": 0.4}) == "Gaussian noise $\\sigma$ = 0.4"
    assert perturbation_text({"family": "motion_blur", "severity": 2}) == "motion blur, severity 2"
