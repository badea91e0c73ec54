"""The link between representation recovery and localisation, image by image.

For image i, the top PCoder's correlation distance to the clean run d_i(t) (`pcgc.compute.recovery`,
reference `same_t`) and a localisation score s_i(t) (e.g. the IoU of Grad-CAM on the top layer),
take their changes from t = 0,

    Dd_i(t) = d_i(t) - d_i(0),    Ds_i(t) = s_i(t) - s_i(0),

and per timestep t >= 1 Spearman's rank correlation rho(t) between Dd(t) and Ds(t) over the images.
If localisation recovers because the representation recovers, rho < 0: the images whose
representation moves towards the clean one most (Dd most negative) gain most score. The interval is
the percentile bootstrap over images: resample b draws images with replacement (the same draw for
every timestep, `numpy.random.default_rng(seed).integers(0, N, (resamples, N))`, as
`pcgc.analysis.bootstrap`) and recomputes rho on them; a resample whose ranks are constant (rho
undefined) is left out of the interval and counted.

Images whose distance or score is undefined (NaN) at some timestep are left out and counted.
Where either change is the same for every image (e.g. no image's IoU moved by t = 1) the ranks are
constant and rho is undefined: NaN, as in `scipy.stats.spearmanr`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

COLUMNS = ("timestep", "n_images", "n_excluded", "spearman", "ci_low", "ci_high", "undefined_resamples", "resamples", "seed", "confidence")


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of a with the same row of b; NaN where a row is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair (average ranks for ties): Pearson r of the ranks."""
    return _pearson_rows(rankdata(a, axis=-1), rankdata(b, axis=-1))


def recovery_link(
    distance: np.ndarray, score: np.ndarray, *, resamples: int, seed: int, confidence: float
) -> pd.DataFrame:
    """One row per timestep t >= 1 (columns `COLUMNS`) of the rank correlation between the changes
    from t = 0 of `distance` and `score`, both [N_images, T+1] with images in the same order."""
    distance, score = np.asarray(distance, dtype=np.float64), np.asarray(score, dtype=np.float64)
    if distance.ndim != 2 or distance.shape != score.shape or distance.shape[1] < 2:
        raise ValueError(f"distance and score must share a shape [N_images, T+1] with T >= 1, got {distance.shape} and {score.shape}")
    if resamples < 2 or not 0 < confidence < 1:
        raise ValueError(f"resamples must be >= 2 and confidence in (0, 1), got {resamples} and {confidence}")
    defined = np.isfinite(distance).all(1) & np.isfinite(score).all(1)
    d, s = distance[defined], score[defined]
    count = d.shape[0]
    if count < 3:
        raise ValueError(f"the link needs at least 3 images with defined distance and score, got {count}")
    dd, ds = d - d[:, :1], s - s[:, :1]
    idx = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    tail = (1 - confidence) / 2
    rows = []
    for t in range(1, d.shape[1]):
        rho = float(spearman_rows(dd[:, t], ds[:, t]))
        boot = spearman_rows(dd[idx, t], ds[idx, t])
        finite = boot[np.isfinite(boot)]
        low, high = np.quantile(finite, [tail, 1 - tail]) if finite.size else (np.nan, np.nan)
        rows.append((t, count, int((~defined).sum()), rho, low, high, int(boot.size - finite.size), resamples, seed, float(confidence)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def relative_to_first(values: np.ndarray) -> np.ndarray:
    """[T+1] mean over images at each t divided by the mean at t = 0 (NaN where that is 0):
    the curves d_n(t)/d_n(0) and IoU(t)/IoU(0) of the mechanism figure. Rows with a NaN are
    left out (the caller counts them)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values).all(1)]
    means = values.mean(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(means[0] != 0, means / means[0], np.nan)
