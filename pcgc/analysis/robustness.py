"""Robustness to corruptions over the dynamics' timesteps, as Predify reports it, and a score of
the maps summarised the same way, so that the two can be set side by side.

For family f at severity s and timestep t, on the N images with top-1 class y_i(t) and label l_i:

    E_fs(t)  = (1/N) sum_i [y_i(t) != l_i]                   top-1 error
    CE_f(t)  = sum_s E_fs(t)                                  corruption error, over the severities run
    mCE(t)   = (1/F) sum_f CE_f(t)                            mean over the F families
    relative: E_fs(t) / E_fs(0), CE_f(t) / CE_f(0), mCE(t) / mCE(0)

Predify (its `mce_scores`) plots mCE(t) / mCE(0) with the errors neither normalised nor weighted.
ImageNet-C's own CE (Hendrycks & Dietterich) divides by AlexNet's errors A_fs
(`pcgc.spec.corruptions.ALEXNET_ERRORS`): CE^A_f(t) = sum_s E_fs(t) / sum_s A_fs, and its mCE^A is
the mean of CE^A_f over the families that have A (the 15 benchmark ones). For one family the
normalisation cancels in the ratio to t = 0; for the mean over families it does not.

A localisation score S (the IoU, ...) is summarised alike, with means in place of sums:
S_f(t) = mean_s (1/N) sum_i S_fsi(t), and its mean over families.

**Intervals.** Every statistic gets a paired bootstrap over images: resample b draws image indices
as `pcgc.analysis.bootstrap` does (`default_rng(seed).integers(0, N, size=(resamples, N))`), and the
same images serve every family, severity and timestep, so that every ratio to t = 0 and every
mean over families is computed within one resample. The branches of a set run on the same images
(the same selection, the same subset), which is what makes the pairing meaningful.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pcgc.spec.corruptions import FAMILIES, alexnet_error

ALL_FAMILIES = "all"
"""The `family` of the rows that summarise every family (mCE, the mean score)."""

# Per row group and timestep; `value` is renamed after what it is (`error`, `ce`, `mean`).
STATISTIC_COLUMNS = (
    "timestep", "n_images", "value", "boot_sd", "ci_low", "ci_high",
    "ratio", "ratio_boot_sd", "ratio_ci_low", "ratio_ci_high",
)
# How many float64 values one block of resample weights may hold (it changes no result).
_BLOCK_VALUES = 2**23


def resampled_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """values [K, N, T+1] -> per resample the mean over its images [B, K, T+1].

    Resample b draws the images `default_rng(seed).integers(0, N, size=(resamples, N))[b]` (those of
    pcgc.analysis.bootstrap), drawn a block of rows at a time from the one generator (the same
    numbers). Its mean is the weighted sum over the N images (weights: how often each is drawn)
    divided by N: for 0/1 values (top-1 errors) every sum is an exact integer, so the means equal
    those of the gathered resamples to the last bit."""
    branches, n_images, states = values.shape
    if n_images < 1 or resamples < 2:
        raise ValueError(f"need at least one image and two resamples, got {n_images} images and {resamples} resamples")
    flat = np.ascontiguousarray(values.transpose(1, 0, 2).reshape(n_images, branches * states), dtype=np.float64)
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_VALUES // n_images)
    out = np.empty((resamples, branches * states))
    for start in range(0, resamples, block):
        rows = min(block, resamples - start)
        index = rng.integers(0, n_images, size=(rows, n_images))
        offsets = (np.arange(rows) * n_images)[:, None]
        counts = np.bincount((index + offsets).ravel(), minlength=rows * n_images).reshape(rows, n_images)
        out[start : start + rows] = counts.astype(np.float64) @ flat
    return (out / n_images).reshape(resamples, branches, states)


def _statistics(sample: np.ndarray, boot: np.ndarray, n_images: int, confidence: float) -> list[pd.DataFrame]:
    """One frame per row group: sample [G, T+1] and resampled [B, G, T+1] values -> STATISTIC_COLUMNS."""
    tail = (1.0 - confidence) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sample[:, :1] != 0, sample / sample[:, :1], np.nan)
        boot_ratio = boot / boot[:, :, :1]
    frames = []
    for g in range(sample.shape[0]):
        low, high = np.quantile(boot[:, g], [tail, 1.0 - tail], axis=0)
        if np.all(boot[:, g, 0] != 0):
            ratio_sd = boot_ratio[:, g].std(axis=0, ddof=1)
            ratio_low, ratio_high = np.quantile(boot_ratio[:, g], [tail, 1.0 - tail], axis=0)
        else:  # a resample without error (or score) at t = 0: no ratio to bound
            ratio_sd = ratio_low = ratio_high = np.full(sample.shape[1], np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "timestep": np.arange(sample.shape[1]), "n_images": n_images, "value": sample[g],
                    "boot_sd": boot[:, g].std(axis=0, ddof=1), "ci_low": low, "ci_high": high,
                    "ratio": ratio[g], "ratio_boot_sd": ratio_sd, "ratio_ci_low": ratio_low, "ratio_ci_high": ratio_high,
                }
            )
        )
    return frames


def _check(values: Mapping[tuple[str, int], np.ndarray], what: str) -> tuple[list[tuple[str, int]], np.ndarray]:
    if not values:
        raise ValueError(f"no {what} to summarise")
    branches = list(values)
    for family, severity in branches:
        if family not in FAMILIES or severity not in range(1, 6):
            raise ValueError(f"{what}: ({family!r}, {severity!r}) is not a corruption family at a severity 1-5")
    shapes = {key: np.shape(array) for key, array in values.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 2:
        raise ValueError(f"{what}: every branch needs the same [images, timesteps] shape, got {shapes}")
    stacked = np.stack([np.asarray(values[key], dtype=np.float64) for key in branches])
    if not np.isfinite(stacked).all():
        raise ValueError(f"{what}: non-finite values; leave out the images whose score is undefined first")
    return branches, stacked


def _families(branches: Sequence[tuple[str, int]]) -> dict[str, list[int]]:
    """Family -> the positions of its branches, in the catalogue's order of families."""
    positions: dict[str, list[int]] = {}
    for k, (family, _) in enumerate(branches):
        positions.setdefault(family, []).append(k)
    return {family: positions[family] for family in FAMILIES if family in positions}


def _family_values(per_branch: np.ndarray, families: Mapping[str, list[int]], reduce: str) -> np.ndarray:
    """[..., K, T+1] per branch -> [..., F + 1, T+1]: each family's sum (or mean) over its
    severities, then the mean over families."""
    combine = np.sum if reduce == "sum" else np.mean
    family = np.stack([combine(per_branch[..., k, :], axis=-2) for k in families.values()], axis=-2)
    return np.concatenate([family, family.mean(axis=-2, keepdims=True)], axis=-2)


def robustness_tables(
    wrong: Mapping[tuple[str, int], np.ndarray],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    alexnet: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-1 errors and corruption errors of one hyperparameter set, with paired bootstrap intervals.

    `wrong[(family, severity)]` is [N, T+1], true where the top-1 class is not the label (the same
    N images in every branch). Returns

    * `errors`: per family, severity and timestep, E_fs(t) (`error`) and E_fs(t) / E_fs(0)
      (`ratio`), each with its bootstrap SD and percentile interval, and AlexNet's error
      (`alexnet_error`, NaN where none is published);
    * `ce`: per family and timestep, CE_f(t) (`ce`) and CE_f(t) / CE_f(0); rows of `family` "all" hold
      mCE(t) and mCE(t) / mCE(0). With `alexnet`, `ce_alexnet` is CE^A_f(t) (mCE^A for "all",
      over the families AlexNet has) and `ce_alexnet_ratio` its ratio to t = 0; NaN otherwise.
    """
    branches, values = _check(wrong, "top-1 errors")
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError("top-1 errors: values must be 0 or 1 (or booleans)")
    n_images = values.shape[1]
    sample = values.mean(axis=1)  # [K, T+1]
    boot = resampled_means(values, resamples, seed)  # [B, K, T+1]
    settings = {"resamples": resamples, "seed": seed, "confidence": float(confidence)}

    rows = []
    for (family, severity), frame in zip(branches, _statistics(sample, boot, n_images, confidence)):
        reference = alexnet_error(family, severity)
        rows.append(
            frame.assign(family=family, group=FAMILIES[family].group, severity=severity,
                         alexnet_error=np.nan if reference is None else reference, **settings)
        )
    errors = _ordered(pd.concat(rows, ignore_index=True), ["family", "group", "severity"], ["alexnet_error"], "error")

    families = _families(branches)
    ce_sample = _family_values(sample, families, "sum")
    ce_boot = _family_values(boot, families, "sum")
    names = [*families, ALL_FAMILIES]
    severities = [" ".join(str(branches[k][1]) for k in ks) for ks in families.values()]
    normalized = _alexnet_normalized(sample, branches, families) if alexnet else np.full_like(ce_sample, np.nan)
    rows = []
    for g, frame in enumerate(_statistics(ce_sample, ce_boot, n_images, confidence)):
        name = names[g]
        with np.errstate(divide="ignore", invalid="ignore"):
            norm_ratio = normalized[g] / normalized[g, 0]
        rows.append(
            frame.assign(
                family=name, group=FAMILIES[name].group if name in FAMILIES else ALL_FAMILIES,
                severities=severities[g] if g < len(severities) else "", ce_alexnet=normalized[g],
                ce_alexnet_ratio=norm_ratio, **settings,
            )
        )
    ce = _ordered(pd.concat(rows, ignore_index=True), ["family", "group", "severities"], ["ce_alexnet", "ce_alexnet_ratio"], "ce")
    return errors, ce


def _alexnet_normalized(sample: np.ndarray, branches: Sequence[tuple[str, int]], families: Mapping[str, list[int]]) -> np.ndarray:
    """[F + 1, T+1]: CE^A_f(t) = sum_s E_fs(t) / sum_s A_fs (NaN for a family without A), and
    their mean over the families with A."""
    normalized = np.full((len(families) + 1, sample.shape[1]), np.nan)
    for g, ks in enumerate(families.values()):
        references = [alexnet_error(*branches[k]) for k in ks]
        if None not in references:
            normalized[g] = sample[ks].sum(axis=0) / sum(references)
    known = normalized[:-1][~np.isnan(normalized[:-1, 0])]
    if len(known):
        normalized[-1] = known.mean(axis=0)
    return normalized


def family_score_table(
    scores: Mapping[tuple[str, int], np.ndarray],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """A localisation score per family and timestep, summarised as the errors are.

    `scores[(family, severity)]` is [N, T+1], the score of each image at each timestep (the same
    images in every branch, each defined everywhere). One row per family (and "all", the mean over
    families) and timestep: S_f(t) (`mean`, the mean over severities of the mean over images),
    S_f(t) / S_f(0) (`ratio`), with intervals from the same resampled images as
    `robustness_tables` draws for the same N and seed."""
    branches, values = _check(scores, "scores")
    n_images = values.shape[1]
    families = _families(branches)
    sample = _family_values(values.mean(axis=1), families, "mean")
    boot = _family_values(resampled_means(values, resamples, seed), families, "mean")
    names = [*families, ALL_FAMILIES]
    rows = [
        frame.assign(family=names[g], resamples=resamples, seed=seed, confidence=float(confidence))
        for g, frame in enumerate(_statistics(sample, boot, n_images, confidence))
    ]
    return _ordered(pd.concat(rows, ignore_index=True), ["family"], [], "mean")


def _ordered(table: pd.DataFrame, first: list[str], last: list[str], value: str) -> pd.DataFrame:
    """The columns in their documented order, `value` named for what it is (error, ce, mean)."""
    table = table[[*first, *STATISTIC_COLUMNS, *last, "resamples", "seed", "confidence"]]
    return table.rename(columns={"value": value})
