"""The link between recovery and localisation (pcgc.analysis.mechanism) and the paired comparison
of two conditions (pcgc.analysis.paired.paired_between)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from pcgc.analysis.mechanism import recovery_link, relative_to_first, spearman_rows
from pcgc.analysis.paired import paired_against_first, paired_between


def test_spearman_rows_is_scipys_spearman_row_by_row():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    b[0] = np.round(a[0])  # ties
    for i in range(5):
        assert spearman_rows(a[i], b[i]) == pytest.approx(spearmanr(a[i], b[i]).statistic, abs=1e-12)
    assert np.isnan(spearman_rows(np.ones(5), np.arange(5.0)))


def test_the_link_finds_a_negative_rank_correlation_and_brackets_it():
    rng = np.random.default_rng(1)
    n, steps = 200, 4
    d0 = rng.uniform(0.2, 0.4, size=(n, 1))
    recovered = rng.uniform(0, 0.1, size=(n, 1)) * np.arange(steps)  # recovery grows with t
    distance = d0 - recovered
    score = 0.5 + 2 * recovered + rng.normal(0, 0.01, size=(n, steps))
    score[:, 0] = 0.5
    distance[3, 2] = np.nan  # an undefined distance: image 3 is left out and counted
    table = recovery_link(distance, score, resamples=500, seed=0, confidence=0.95)
    assert list(table["timestep"]) == [1, 2, 3]
    assert (table["n_images"] == n - 1).all() and (table["n_excluded"] == 1).all()
    kept = np.delete(np.arange(n), 3)
    for _, row in table.iterrows():
        t = int(row["timestep"])
        expected = spearmanr(distance[kept, t] - distance[kept, 0], score[kept, t] - score[kept, 0]).statistic
        assert row["spearman"] == pytest.approx(expected, abs=1e-12)
        assert row["ci_low"] <= row["spearman"] <= row["ci_high"]
    assert (table["spearman"] < -0.8).all()
    # The same seed, the same interval.
    again = recovery_link(distance, score, resamples=500, seed=0, confidence=0.95)
    assert table.equals(again)


def test_the_link_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="share a shape"):
        recovery_link(np.zeros((4, 3)), np.zeros((4, 2)), resamples=10, seed=0, confidence=0.95)
    with pytest.raises(ValueError, match="at least 3 images"):
        recovery_link(np.full((4, 3), np.nan), np.zeros((4, 3)), resamples=10, seed=0, confidence=0.95)


def test_paired_between_tests_the_difference_of_two_conditions():
    rng = np.random.default_rng(2)
    reference = rng.uniform(size=(60, 4))
    reference[:, 0] = 0.5
    values = reference + np.array([0, 0.0, 0.05, -0.05]) + rng.normal(0, 0.01, size=(60, 4))
    values[:, 0] = reference[:, 0]  # a shared t = 0
    table = paired_between(values, reference, resamples=300, seed=0, confidence=0.95)
    assert table["delta_mean"].iloc[0] == 0 and np.isnan(table["p_value"].iloc[0])
    assert table["delta_mean"].iloc[2] == pytest.approx(0.05, abs=0.01)
    assert table["p_holm"].iloc[2] < 1e-6 and table["p_holm"].iloc[3] < 1e-6
    assert table["rank_biserial"].iloc[2] > 0.9 and table["rank_biserial"].iloc[3] < -0.9
    # Against t = 0 is the same machinery: the same numbers for values - values[:, :1].
    first = paired_against_first(values, resamples=300, seed=0, confidence=0.95)
    between = paired_between(values, np.repeat(values[:, :1], 4, axis=1), resamples=300, seed=0, confidence=0.95)
    assert first.equals(between)
    with pytest.raises(ValueError, match="one shape"):
        paired_between(values, reference[:, :3], resamples=10, seed=0, confidence=0.95)


def test_relative_to_first():
    values = np.array([[1.0, 0.5, 0.25], [3.0, 1.5, np.nan], [1.0, 1.0, 0.75]])
    np.testing.assert_allclose(relative_to_first(values), [1.0, 0.75, 0.5])
