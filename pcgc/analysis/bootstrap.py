"""Paired bootstrap over images of per-timestep scores (mean, SD, percentile interval, ratio to t = 0)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_CHUNK_BYTES = 100 * 2**20

COLUMNS = (
    "timestep",
    "n_images",
    "mean",
    "boot_mean",
    "boot_sd",
    "ci_low",
    "ci_high",
    "ratio_mean",
    "ratio_boot_sd",
    "ratio_ci_low",
    "ratio_ci_high",
    "resamples",
    "seed",
    "confidence",
)


def _validate(values: np.ndarray, resamples: int, seed: int, confidence: float, chunk_bytes: int) -> np.ndarray:
    for name, number, minimum in (("resamples", resamples, 2), ("seed", seed, 0), ("chunk_bytes", chunk_bytes, 1)):
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {number!r}")
    if not (isinstance(confidence, (float, int)) and 0 < confidence < 1):
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        raise ValueError(f"values must have shape [N_images, T+1] with N, T+1 >= 1, got {values.shape}")
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"values must be numeric, got dtype {values.dtype}")
    values = values.astype(np.float64, copy=False)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        # Undefined scores (e.g. an empty IoU union) must be resolved by the caller, not dropped here.
        first = ", ".join(f"({row}, {step})" for row, step in bad[:5].tolist())
        more = "" if len(bad) <= 5 else f", ... ({len(bad) - 5} more)"
        raise ValueError(
            f"values contain {len(bad)} NaN/non-finite entries at (row, timestep) {first}{more}; "
            "decide how to handle them before bootstrapping"
        )
    return values


def bootstrap_timesteps(
    values: np.ndarray,
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> pd.DataFrame:
    """Bootstrap the mean score of every timestep by resampling images with replacement.

    ``values`` is ``[N_images, T+1]`` (one score per image and timestep). The bootstrap is
    paired: every timestep uses the same resampled images, so ratios to t = 0 are computed
    within each resample. The indices are drawn exactly as::

        rng = np.random.default_rng(seed)
        idx = rng.integers(0, N, size=(resamples, N))

    and resample ``b`` is ``values[idx[b]]``.

    One row per timestep with columns: ``timestep``, ``n_images``, ``mean`` (sample mean),
    ``boot_mean`` (mean of the bootstrap means), ``boot_sd`` (SD, ddof=1, of the bootstrap means),
    ``ci_low``/``ci_high`` (percentile interval at ``confidence``, ``numpy.quantile`` linear),
    ``ratio_mean`` (sample mean(t) / sample mean(0)), ``ratio_boot_sd``, ``ratio_ci_low``,
    ``ratio_ci_high`` (of the per-resample ratio mean_b(t) / mean_b(0)), and the settings
    ``resamples``, ``seed``, ``confidence``.

    The ratio is undefined when a t = 0 mean is 0: ``ratio_mean`` is NaN if the sample mean at
    t = 0 is 0, and the ``ratio_boot_*`` / ``ratio_ci_*`` columns are NaN if any resample's mean
    at t = 0 is 0 (no resample is dropped).

    Non-finite entries in ``values`` raise ``ValueError`` naming their positions.
    ``chunk_bytes`` bounds the memory of the gathered resamples; it does not change the result.
    """
    values = _validate(values, resamples, seed, confidence, chunk_bytes)
    n_images, n_steps = values.shape

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_images, size=(resamples, n_images))

    boot_means = np.empty((resamples, n_steps), dtype=np.float64)
    chunk = max(1, chunk_bytes // (n_images * n_steps * values.itemsize))
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        boot_means[start:stop] = values[idx[start:stop]].mean(axis=1)

    tail = (1.0 - confidence) / 2.0
    quantiles = [tail, 1.0 - tail]
    sample_mean = values.mean(axis=0)
    ci = np.quantile(boot_means, quantiles, axis=0)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_mean = np.where(sample_mean[0] != 0, sample_mean / sample_mean[0], np.nan)
        if np.all(boot_means[:, 0] != 0):
            ratios = boot_means / boot_means[:, :1]
            ratio_sd = ratios.std(axis=0, ddof=1)
            ratio_ci = np.quantile(ratios, quantiles, axis=0)
        else:
            ratio_sd = np.full(n_steps, np.nan)
            ratio_ci = np.full((2, n_steps), np.nan)

    return pd.DataFrame(
        {
            "timestep": np.arange(n_steps),
            "n_images": n_images,
            "mean": sample_mean,
            "boot_mean": boot_means.mean(axis=0),
            "boot_sd": boot_means.std(axis=0, ddof=1),
            "ci_low": ci[0],
            "ci_high": ci[1],
            "ratio_mean": ratio_mean,
            "ratio_boot_sd": ratio_sd,
            "ratio_ci_low": ratio_ci[0],
            "ratio_ci_high": ratio_ci[1],
            "resamples": resamples,
            "seed": seed,
            "confidence": float(confidence),
        },
        columns=list(COLUMNS),
    )
