"""Paired statistics of per-image scores against t = 0: is the change at timestep t real?

For scores ``values[i, t]`` (image i, timestep t) the paired change is ``d[i, t] = values[i, t] -
values[i, 0]``. Per timestep t >= 1:

* the mean change and its paired bootstrap (the same resampled images as `pcgc.analysis.bootstrap`, so its
  SD and percentile interval come from the same resamples);
* the Wilcoxon signed-rank test of ``d[:, t]`` (`scipy.stats.wilcoxon`, two-sided, zero
  differences dropped as in Wilcoxon's original test, ``method="auto"``: exact for up to 50
  nonzero differences without ties, else the normal approximation); when every difference is zero
  there is nothing to test and the p-value is 1;
* the Holm step-down correction of those p-values over the timesteps 1..T (family-wise error);
* the matched-pairs rank-biserial correlation (Kerby 2014): ``(R+ - R-) / (R+ + R-)`` with R+ / R-
  the sums of the ranks of |d| over the positive / negative nonzero differences. It lies in
  [-1, 1]: +1 when every image's score rose, -1 when every one fell, 0 when no change dominates.

Row t = 0 has change 0 and no test (NaN).

`paired_between` applies the same statistics to the difference between two conditions on the same
images, ``d[i, t] = values[i, t] - reference[i, t]`` (a control against the real dynamics,
docs/mechanism.md); their t = 0 is shared, so its difference is 0 and is not tested either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata, wilcoxon

from pcgc.analysis.bootstrap import bootstrap_timesteps

COLUMNS = (
    "timestep", "delta_mean", "delta_boot_sd", "delta_ci_low", "delta_ci_high",
    "wilcoxon_statistic", "p_value", "p_holm", "rank_biserial", "n_nonzero",
)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (same order as given): the i-th smallest of m becomes
    max over j <= i of min(1, (m - j + 1) p_(j)), so the adjusted values keep their order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"p-values must be a 1-D array of numbers in [0, 1], got {p_values!r}")
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def rank_biserial(differences: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (zeros dropped); NaN when all are zero."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[d != 0]
    if d.size == 0:
        return float("nan")
    ranks = rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def paired_against_first(values: np.ndarray, *, resamples: int, seed: int, confidence: float) -> pd.DataFrame:
    """Per timestep, the paired change from t = 0 of ``values`` [N_images, T+1] (finite): one row
    per timestep with the columns `COLUMNS` (module docstring)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(f"values must have shape [N_images, T+1], got {values.shape}")
    return paired_statistics(values - values[:, :1], resamples=resamples, seed=seed, confidence=confidence)


def paired_between(values: np.ndarray, reference: np.ndarray, *, resamples: int, seed: int, confidence: float) -> pd.DataFrame:
    """Per timestep, the paired difference ``values - reference`` [N_images, T+1] of two conditions
    on the same images (rows in the same order): the columns `COLUMNS`, tests from t = 1 on."""
    values, reference = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if values.ndim != 2 or values.shape != reference.shape:
        raise ValueError(f"values and reference must have one shape [N_images, T+1], got {values.shape} and {reference.shape}")
    return paired_statistics(values - reference, resamples=resamples, seed=seed, confidence=confidence)


def paired_statistics(change: np.ndarray, *, resamples: int, seed: int, confidence: float) -> pd.DataFrame:
    """The columns `COLUMNS` of paired differences ``change`` [N_images, T+1]: bootstrap of the
    mean at every timestep; Wilcoxon, Holm over t = 1..T and rank-biserial from t = 1 on."""
    if change.ndim != 2 or change.shape[1] < 1:
        raise ValueError(f"differences must have shape [N_images, T+1], got {change.shape}")
    boot = bootstrap_timesteps(change, resamples=resamples, seed=seed, confidence=confidence)
    steps = change.shape[1]
    statistic, p_value, effect, nonzero = (np.full(steps, np.nan) for _ in range(4))
    for t in range(1, steps):
        d = change[:, t]
        nonzero[t] = np.count_nonzero(d)
        if nonzero[t] == 0:
            statistic[t], p_value[t] = 0.0, 1.0
            continue
        test = wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="auto")
        statistic[t], p_value[t] = test.statistic, test.pvalue
        effect[t] = rank_biserial(d)
    adjusted = np.full(steps, np.nan)
    if steps > 1:
        adjusted[1:] = holm(p_value[1:])
    return pd.DataFrame(
        {
            "timestep": np.arange(steps),
            "delta_mean": change.mean(axis=0),
            "delta_boot_sd": boot["boot_sd"].to_numpy(),
            "delta_ci_low": boot["ci_low"].to_numpy(),
            "delta_ci_high": boot["ci_high"].to_numpy(),
            "wilcoxon_statistic": statistic,
            "p_value": p_value,
            "p_holm": adjusted,
            "rank_biserial": effect,
            "n_nonzero": nonzero,
        },
        columns=list(COLUMNS),
    )
