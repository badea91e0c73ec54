import numpy as np
import pandas as pd
import pytest

from pcgc.analysis.bootstrap import bootstrap_timesteps


def _values(n=40, steps=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, steps)) * np.linspace(0.5, 1.0, steps)


def test_matches_a_plain_loop_over_resamples():
    values = _values()
    n, steps = values.shape
    resamples, seed, confidence = 200, 7, 0.9
    table = bootstrap_timesteps(values, resamples=resamples, seed=seed, confidence=confidence)

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    means = []
    ratios = []
    for b in range(resamples):
        sample = values[idx[b]]
        m = sample.mean(axis=0)
        means.append(m)
        ratios.append(m / m[0])
    means = np.array(means)
    ratios = np.array(ratios)

    assert list(table["timestep"]) == list(range(steps))
    assert (table["n_images"] == n).all()
    np.testing.assert_allclose(table["mean"], values.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["boot_mean"], means.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["boot_sd"], means.std(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(table["ci_low"], np.quantile(means, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["ci_high"], np.quantile(means, 0.95, axis=0), rtol=1e-12)
    sample_mean = values.mean(axis=0)
    np.testing.assert_allclose(table["ratio_mean"], sample_mean / sample_mean[0], rtol=1e-12)
    np.testing.assert_allclose(table["ratio_boot_sd"], ratios.std(axis=0, ddof=1), rtol=1e-10)
    np.testing.assert_allclose(table["ratio_ci_low"], np.quantile(ratios, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["ratio_ci_high"], np.quantile(ratios, 0.95, axis=0), rtol=1e-12)
    assert (table["resamples"] == resamples).all() and (table["seed"] == seed).all()
    assert (table["confidence"] == confidence).all()
    # Sanity: the interval brackets the mean and has positive width.
    assert (table["ci_low"] < table["mean"]).all() and (table["mean"] < table["ci_high"]).all()


def test_same_seed_is_deterministic_and_different_seeds_differ():
    values = _values()
    a = bootstrap_timesteps(values, resamples=100, seed=3)
    b = bootstrap_timesteps(values, resamples=100, seed=3)
    c = bootstrap_timesteps(values, resamples=100, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["boot_sd"], c["boot_sd"])
    # The sample mean does not depend on the seed.
    np.testing.assert_array_equal(a["mean"], c["mean"])


def test_constant_values_have_zero_spread():
    values = np.full((25, 4), 0.25)
    table = bootstrap_timesteps(values, resamples=50, seed=0)
    assert (table["boot_sd"] == 0).all()
    assert (table["ci_low"] == 0.25).all() and (table["ci_high"] == 0.25).all()
    assert (table["mean"] == 0.25).all() and (table["boot_mean"] == 0.25).all()
    assert (table["ratio_mean"] == 1).all() and (table["ratio_boot_sd"] == 0).all()


def test_ratio_at_t0_is_exactly_one():
    table = bootstrap_timesteps(_values(), resamples=100, seed=5)
    first = table.iloc[0]
    assert first["ratio_mean"] == 1.0
    assert first["ratio_boot_sd"] == 0.0
    assert first["ratio_ci_low"] == 1.0 and first["ratio_ci_high"] == 1.0


def test_ratio_undefined_when_t0_mean_is_zero_gives_nan_not_inf():
    values = np.zeros((10, 3))
    values[:, 1:] = 0.5
    table = bootstrap_timesteps(values, resamples=20, seed=0)
    for column in ("ratio_mean", "ratio_boot_sd", "ratio_ci_low", "ratio_ci_high"):
        assert table[column].isna().all(), column
    assert (table["mean"] == [0.0, 0.5, 0.5]).all()


def test_nan_raises_with_count_and_positions():
    values = _values(n=10, steps=3)
    values[2, 1] = np.nan
    values[7, 0] = np.nan
    with pytest.raises(ValueError, match=r"2 NaN.*\(2, 1\).*\(7, 0\)"):
        bootstrap_timesteps(values, resamples=10, seed=0)


def test_chunking_does_not_change_the_result():
    values = _values(n=30, steps=4)
    whole = bootstrap_timesteps(values, resamples=97, seed=11)
    # One resample is 30 * 4 * 8 = 960 bytes: chunks of 2 resamples, with a ragged last chunk.
    chunked = bootstrap_timesteps(values, resamples=97, seed=11, chunk_bytes=2000)
    one_by_one = bootstrap_timesteps(values, resamples=97, seed=11, chunk_bytes=1)
    pd.testing.assert_frame_equal(whole, chunked, check_exact=False, rtol=1e-13)
    pd.testing.assert_frame_equal(whole, one_by_one, check_exact=False, rtol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"resamples": 1, "seed": 0}, "resamples"),
        ({"resamples": 10, "seed": -1}, "seed"),
        ({"resamples": 10, "seed": 0, "confidence": 1.0}, "confidence"),
        ({"resamples": 10.0, "seed": 0}, "resamples"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_timesteps(_values(n=5, steps=2), **kwargs)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        bootstrap_timesteps(np.zeros(5), resamples=10, seed=0)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_timesteps(np.zeros((0, 3)), resamples=10, seed=0)
