"""Robustness to corruptions (pcgc.analysis.robustness) against a direct computation: the errors,
CE and mCE, their ratios to t = 0, AlexNet's normalisation, and the paired bootstrap drawn as the
score tables' bootstrap draws it."""

from __future__ import annotations

import numpy as np
import pytest

from pcgc.analysis.bootstrap import bootstrap_timesteps
from pcgc.analysis.robustness import (
    ALL_FAMILIES,
    family_score_table,
    resampled_means,
    robustness_tables,
)
from pcgc.spec.corruptions import ALEXNET_ERRORS, FAMILIES, alexnet_error

N, STATES, RESAMPLES = 30, 4, 300


@pytest.fixture
def wrong():
    rng = np.random.default_rng(3)
    rates = {("fog", 1): 0.3, ("fog", 4): 0.6, ("brightness", 2): 0.2, ("saturate", 5): 0.4}
    return {key: rng.random((N, STATES)) < rate for key, rate in rates.items()}


def direct(wrong, resamples, seed):
    """The statistics written out: a loop over resamples of gathered images."""
    index = np.random.default_rng(seed).integers(0, N, size=(resamples, N))
    boot = {key: np.stack([w[i].mean(axis=0) for i in index]) for key, w in wrong.items()}  # [B, T+1]
    families = {}
    for family, severity in wrong:
        families.setdefault(family, []).append(severity)
    ce = {f: sum(boot[(f, s)] for s in severities) for f, severities in families.items()}
    ce[ALL_FAMILIES] = sum(ce.values()) / len(families)
    return boot, ce


def test_errors_and_their_ratios_are_those_of_a_direct_computation(wrong):
    errors, _ = robustness_tables(wrong, resamples=RESAMPLES, seed=5, confidence=0.9)
    boot, _ = direct(wrong, RESAMPLES, 5)
    for (family, severity), w in wrong.items():
        rows = errors[(errors["family"] == family) & (errors["severity"] == severity)]
        assert list(rows["timestep"]) == list(range(STATES)) and (rows["n_images"] == N).all()
        assert (rows["group"] == FAMILIES[family].group).all()
        np.testing.assert_array_equal(rows["error"], w.mean(axis=0))
        np.testing.assert_allclose(rows["ratio"], w.mean(axis=0) / w[:, 0].mean())
        b = boot[(family, severity)]
        np.testing.assert_allclose(rows["boot_sd"], b.std(axis=0, ddof=1))
        np.testing.assert_allclose(rows["ci_low"], np.quantile(b, 0.05, axis=0))
        np.testing.assert_allclose(rows["ci_high"], np.quantile(b, 0.95, axis=0))
        ratios = b / b[:, :1]
        np.testing.assert_allclose(rows["ratio_boot_sd"], ratios.std(axis=0, ddof=1))
        np.testing.assert_allclose(rows["ratio_ci_low"], np.quantile(ratios, 0.05, axis=0))
        reference = ALEXNET_ERRORS.get(family)
        expected = np.nan if reference is None else reference[severity - 1]
        np.testing.assert_array_equal(rows["alexnet_error"], expected)


def test_the_resampled_error_means_are_those_of_the_score_bootstrap_to_the_bit(wrong):
    # Same draws as pcgc.analysis.bootstrap: the error of resample b is over the same images as
    # resample b of every branch's bootstrap table.
    values = np.stack([w.astype(float) for w in wrong.values()])
    ours = resampled_means(values, RESAMPLES, 11)
    for k, w in enumerate(wrong.values()):
        theirs = bootstrap_timesteps(w.astype(float), resamples=RESAMPLES, seed=11)
        np.testing.assert_array_equal(ours[:, k].std(axis=0, ddof=1), theirs["boot_sd"])
        np.testing.assert_array_equal(ours[:, k].mean(axis=0), theirs["boot_mean"])


def test_resample_blocks_change_nothing(monkeypatch, wrong):
    from pcgc.analysis import robustness

    values = np.stack([w.astype(float) for w in wrong.values()])
    whole = resampled_means(values, 50, 2)
    monkeypatch.setattr(robustness, "_BLOCK_VALUES", 3 * N)  # blocks of 3 resamples
    np.testing.assert_array_equal(resampled_means(values, 50, 2), whole)


def test_ce_sums_the_severities_and_mce_averages_the_families(wrong):
    _, ce = robustness_tables(wrong, resamples=RESAMPLES, seed=5)
    _, ce_boot = direct(wrong, RESAMPLES, 5)
    # Families in the catalogue's order, then the mean over them.
    assert list(dict.fromkeys(ce["family"])) == ["fog", "brightness", "saturate", ALL_FAMILIES]
    expected = {
        "fog": wrong[("fog", 1)].mean(0) + wrong[("fog", 4)].mean(0),
        "brightness": wrong[("brightness", 2)].mean(0),
        "saturate": wrong[("saturate", 5)].mean(0),
    }
    expected[ALL_FAMILIES] = sum(expected.values()) / 3
    for family, values in expected.items():
        rows = ce[ce["family"] == family]
        np.testing.assert_allclose(rows["ce"], values)
        np.testing.assert_allclose(rows["ratio"], values / values[0])
        b = ce_boot[family]
        np.testing.assert_allclose(rows["boot_sd"], b.std(axis=0, ddof=1))
        np.testing.assert_allclose(rows["ratio_ci_high"], np.quantile(b / b[:, :1], 0.975, axis=0))
    assert ce.loc[ce["family"] == "fog", "severities"].iloc[0] == "1 4"
    assert ce.loc[ce["family"] == ALL_FAMILIES, "group"].iloc[0] == ALL_FAMILIES
    # Without the normalisation asked for, its columns are empty.
    assert ce["ce_alexnet"].isna().all() and ce["ce_alexnet_ratio"].isna().all()


def test_alexnet_normalisation_and_the_families_it_covers(wrong):
    _, ce = robustness_tables(wrong, resamples=RESAMPLES, seed=5, alexnet=True)
    fog = (wrong[("fog", 1)].mean(0) + wrong[("fog", 4)].mean(0)) / (alexnet_error("fog", 1) + alexnet_error("fog", 4))
    brightness = wrong[("brightness", 2)].mean(0) / alexnet_error("brightness", 2)
    np.testing.assert_allclose(ce.loc[ce["family"] == "fog", "ce_alexnet"], fog)
    # One family: the normalisation cancels in the ratio.
    np.testing.assert_allclose(ce.loc[ce["family"] == "fog", "ce_alexnet_ratio"], ce.loc[ce["family"] == "fog", "ratio"])
    # saturate has no published AlexNet errors: NaN, and left out of the normalised mean.
    assert ce.loc[ce["family"] == "saturate", "ce_alexnet"].isna().all()
    mean = (fog + brightness) / 2
    np.testing.assert_allclose(ce.loc[ce["family"] == ALL_FAMILIES, "ce_alexnet"], mean)
    np.testing.assert_allclose(ce.loc[ce["family"] == ALL_FAMILIES, "ce_alexnet_ratio"], mean / mean[0])


def test_the_published_alexnet_errors():
    # The 15 benchmark families, five severities each; the four held-out ones have none.
    assert set(ALEXNET_ERRORS) == set(FAMILIES) - {"speckle_noise", "gaussian_blur", "spatter", "saturate"}
    for family, errors in ALEXNET_ERRORS.items():
        assert len(errors) == 5 and all(0.4 < e < 1 for e in errors), family
    # Their mean per family: AlexNet's CE, e.g. 88.6% for Gaussian noise and 56.5% for brightness.
    assert np.mean(ALEXNET_ERRORS["gaussian_noise"]) == pytest.approx(0.886428)
    assert np.mean(ALEXNET_ERRORS["brightness"]) == pytest.approx(0.564592)
    assert alexnet_error("spatter", 3) is None
    with pytest.raises(ValueError, match="severity 6"):
        alexnet_error("fog", 6)


def test_a_family_score_is_summarised_with_the_same_resamples(wrong):
    rng = np.random.default_rng(0)
    scores = {key: rng.random((N, STATES)) for key in wrong}
    table = family_score_table(scores, resamples=RESAMPLES, seed=5)
    index = np.random.default_rng(5).integers(0, N, size=(RESAMPLES, N))
    fog = (scores[("fog", 1)] + scores[("fog", 4)]) / 2  # per image: the same images at both severities
    rows = table[table["family"] == "fog"]
    np.testing.assert_allclose(rows["mean"], fog.mean(0))
    np.testing.assert_allclose(rows["ratio"], fog.mean(0) / fog[:, 0].mean())
    boot = np.stack([fog[i].mean(0) for i in index])
    np.testing.assert_allclose(rows["boot_sd"], boot.std(axis=0, ddof=1))
    everything = np.mean([fog.mean(0), scores[("brightness", 2)].mean(0), scores[("saturate", 5)].mean(0)], axis=0)
    np.testing.assert_allclose(table.loc[table["family"] == ALL_FAMILIES, "mean"], everything)


def test_ratios_without_errors_at_t0_are_undefined():
    wrong = {("fog", 1): np.zeros((N, STATES), dtype=bool)}
    wrong[("fog", 1)][:5, 2] = True
    errors, _ = robustness_tables(wrong, resamples=20, seed=0)
    assert errors["ratio"].isna().all() and errors["ratio_ci_low"].isna().all()
    assert errors["error"].iloc[2] == pytest.approx(5 / N)


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "no top-1 errors"),
        ({("smoke", 1): np.zeros((3, 2), bool)}, r"\('smoke', 1\) is not a corruption family"),
        ({("fog", 1): np.zeros((3, 2), bool), ("fog", 2): np.zeros((4, 2), bool)}, "the same .images, timesteps. shape"),
        ({("fog", 1): np.full((3, 2), 0.5)}, "must be 0 or 1"),
    ],
)
def test_bad_input_is_named(values, message):
    with pytest.raises(ValueError, match=message):
        robustness_tables(values, resamples=10, seed=0)


def test_undefined_scores_must_be_left_out_first():
    with pytest.raises(ValueError, match="non-finite"):
        family_score_table({("fog", 1): np.array([[0.5, np.nan]])}, resamples=10, seed=0)
