"""The torch corruption kernels against `imagecorruptions` 1.1.2, family by family and severity by
severity (the reference and its shims: benchmarks/reference_corruptions.py).

Two comparisons:
- **Same draws** (every family): pcgc's arithmetic fed the very random numbers the reference draws
  after `np.random.seed`. The reference returns uint8, truncating its float result, so a value
  agrees when ours lies in [ref, ref + 1) (in 8-bit levels); TOLERANCE says how far outside that
  interval a value may lie (levels) and for what fraction of the values.
- **Own draws** (random families): pcgc's per-image generators against the reference's np.random,
  compared through statistics of the change (corrupted - clean) per severity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.reference_corruptions import (
    aligned,
    load_reference,
    photographs,
    reference,
    to_pixels,
    truncation_error,
)
from pcgc.compute.corruptions import CorruptionUnavailable, corrupt, kernel
from pcgc.compute.corruptions.weather import FrostTextures, frost_scale
from pcgc.spec.corruptions import DETERMINISTIC_FAMILIES, FAMILIES, FROST_TEXTURES, RANDOM_FAMILIES, SEVERITIES

REF = load_reference()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # These are small tensors: on a shared machine, waking a second intra-op thread for each
    # operation costs more than the operation (the timings in docs/corruptions.md say so too).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

SMALL = photographs((64, 80))  # non-square, at imagecorruptions' scale of small images
IDS = ["astronaut", "chelsea", "coffee"]

# (largest distance outside the reference's truncation interval, in 8-bit levels; fraction of
# values allowed beyond 0.001 levels). Measured on this stack: every family and severity at 0.
# Families that truncate or round to 8 bits inside (glass blur between its blurs, snow's flakes,
# pixelate's two passes, spatter's OpenCV steps, frost's resized textures) may flip one level where
# a float lands on a boundary on another platform; the others are pure float arithmetic.
EXACT = (0.001, 0.0)
EIGHT_BIT = (1.0, 0.001)
TOLERANCE = {family: EXACT for family in FAMILIES} | {
    family: EIGHT_BIT for family in ("glass_blur", "snow", "pixelate", "spatter", "frost", "shot_noise")
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_draws_agree_with_the_reference_at_every_severity(family):
    image = SMALL[0]
    limit, fraction = TOLERANCE[family]
    for severity in SEVERITIES:
        ours = aligned(image, family, severity, seed=severity)
        error = truncation_error(ours, reference(REF, image, family, severity, seed=severity))
        assert error.max() <= limit and (error > 0.001).mean() <= fraction, (
            f"{family} severity {severity}: {error.max():.3f} levels off, {(error > 0.001).mean():.4%} of values"
        )
        # The comparison has teeth: the next severity's reference is far from this one.
        if severity < 5:
            other = truncation_error(ours, reference(REF, image, family, severity + 1, seed=severity))
            assert other.max() > 1, f"{family}: severities {severity} and {severity + 1} are indistinguishable"


def test_same_draws_with_a_different_seed_disagree():
    # Guards the same-draws comparison: had the draws no effect on it, random families would pass vacuously.
    image = SMALL[1]
    for family in RANDOM_FAMILIES:
        ours = aligned(image, family, 3, seed=1)
        assert truncation_error(ours, reference(REF, image, family, 3, seed=2)).max() > 1, family


# Statistics of one draw's change d = corrupted - clean (in [0, 1] units): its mean, its standard
# deviation, and the fraction of values changed by at least one 8-bit level. Over DRAWS draws per
# severity (pcgc: image ids; reference: np.random seeds), the mean of each statistic must agree
# within Z standard errors of the difference (plus 0.002 for the 8-bit outputs): a two-sample test
# that is strict where a family varies little from draw to draw (noise) and fair where whole fields
# or one scalar (fog's fractal, frost's texture, motion blur's angle) make each draw differ.
DRAWS = 16
Z = 4.0


def change_statistics(clean: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    d = (corrupted.astype(np.float64) - clean.astype(np.float64)) / 255
    return np.array([d.mean(), d.std(), (np.abs(d) >= 1 / 255).mean()])


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
def test_own_draws_agree_with_the_reference_in_distribution(family):
    for severity in SEVERITIES:
        image = SMALL[severity % len(SMALL)]
        pixels = to_pixels(np.repeat(image[None], DRAWS, axis=0))
        out = corrupt(pixels, family, severity, seed=7, image_ids=[f"draw-{k}" for k in range(DRAWS)])
        ours = np.stack(
            [change_statistics(image, np.floor(o.permute(1, 2, 0).double().numpy() * 255)) for o in out]
        )
        theirs = np.stack(
            [change_statistics(image, reference(REF, image, family, severity, seed=1000 + k)) for k in range(DRAWS)]
        )
        gap = np.abs(ours.mean(0) - theirs.mean(0))
        bound = Z * np.sqrt((ours.var(0, ddof=1) + theirs.var(0, ddof=1)) / DRAWS) + 0.002
        assert np.all(gap <= bound), (
            f"{family} severity {severity}: (mean, std, changed) of the change, ours {np.round(ours.mean(0), 4)}, "
            f"reference {np.round(theirs.mean(0), 4)}, allowed gap {np.round(bound, 4)}"
        )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_an_image_is_corrupted_the_same_alone_and_in_any_batch(family):
    pixels = to_pixels(SMALL)
    batch = corrupt(pixels, family, 3, seed=5, image_ids=IDS)
    for k in range(len(IDS)):
        alone = corrupt(pixels[k : k + 1], family, 3, seed=5, image_ids=[IDS[k]])
        torch.testing.assert_close(alone[0], batch[k], atol=1e-6, rtol=0)
    order = [2, 0, 1]
    shuffled = corrupt(pixels[order], family, 3, seed=5, image_ids=[IDS[k] for k in order])
    torch.testing.assert_close(shuffled, batch[order], atol=1e-6, rtol=0)


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
def test_seeding_is_per_seed_and_image_id(family):
    pixels = to_pixels(SMALL[:1])
    first = corrupt(pixels, family, 2, seed=1, image_ids=["a"])
    assert torch.equal(first, corrupt(pixels, family, 2, seed=1, image_ids=["a"]))
    assert not torch.equal(first, corrupt(pixels, family, 2, seed=1, image_ids=["b"]))
    assert not torch.equal(first, corrupt(pixels, family, 2, seed=2, image_ids=["a"]))


@pytest.mark.parametrize("family", DETERMINISTIC_FAMILIES)
def test_deterministic_families_ignore_the_seed(family):
    pixels = to_pixels(SMALL[:1])
    assert torch.equal(
        corrupt(pixels, family, 2, seed=1, image_ids=["a"]), corrupt(pixels, family, 2, seed=9, image_ids=["b"])
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_outputs_are_pixels_in_the_unit_range_with_the_input_dtype(family):
    pixels = to_pixels(SMALL[:2])
    out = corrupt(pixels, family, 5, seed=0, image_ids=IDS[:2])
    assert out.dtype == torch.float32 and out.shape == pixels.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert (out - pixels).abs().mean() > 0.01  # severity 5 does change the image


PIXELS = to_pixels(SMALL[:2])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: corrupt(PIXELS, "gaussian_nosie", 1, seed=0, image_ids=["a", "b"]), r"unknown corruption family 'gaussian_nosie'"),
        (lambda: corrupt(PIXELS, "fog", 6, seed=0, image_ids=["a", "b"]), r"severity 6 of 'fog'"),
        (lambda: corrupt(PIXELS, "fog", True, seed=0, image_ids=["a", "b"]), r"severity True of 'fog'"),
        (lambda: corrupt(PIXELS * 255, "fog", 1, seed=0, image_ids=["a", "b"]), r"pixels must lie in \[0, 1\] \(before normalisation\), got \[0, 25\d\]"),
        (lambda: corrupt(PIXELS - 0.5, "fog", 1, seed=0, image_ids=["a", "b"]), r"must lie in \[0, 1\]"),
        (lambda: corrupt(PIXELS[:, :2], "fog", 1, seed=0, image_ids=["a", "b"]), r"shape \[B, 3, H, W\], got \[2, 2, 64, 80\]"),
        (lambda: corrupt(PIXELS[..., :31, :], "fog", 1, seed=0, image_ids=["a", "b"]), r"at least 32 x 32 pixels, got \[31, 80\]"),
        (lambda: corrupt(PIXELS, "fog", 1, seed=0, image_ids=["a"]), r"2 images but 1 image ids"),
        (lambda: corrupt((PIXELS * 255).to(torch.uint8), "fog", 1, seed=0, image_ids=["a", "b"]), r"must be a float tensor"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_frost_without_its_textures_is_refused_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "frost1.png").write_bytes(b"")
    with pytest.raises(CorruptionUnavailable, match=r"lacks frost2\.png, frost3\.png, frost4\.jpg, frost5\.jpg"):
        corrupt(PIXELS, "frost", 1, seed=0, image_ids=["a", "b"], frost_textures=tmp_path)
    import importlib.util

    from pcgc.compute.corruptions import weather

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CorruptionUnavailable, match=r"imagecorruptions package ships \(Apache-2\.0\); it is not installed"):
        weather.frost_kernel(None)


def test_frost_runs_from_a_given_texture_folder(tmp_path):
    import shutil

    source = FrostTextures().directory
    for name in FROST_TEXTURES:
        shutil.copy(source / name, tmp_path / name)
    ours = corrupt(PIXELS, "frost", 4, seed=0, image_ids=["a", "b"], frost_textures=tmp_path)
    assert torch.equal(ours, corrupt(PIXELS, "frost", 4, seed=0, image_ids=["a", "b"]))
    assert kernel("frost", tmp_path) is kernel("frost", tmp_path)  # textures are read once


def test_frost_textures_are_resized_as_opencv_resizes_them():
    cv2 = pytest.importorskip("cv2")  # imagecorruptions' own dependency
    textures = FrostTextures()
    for h, w in [(224, 224), (64, 80), (720, 400)]:
        for k, name in enumerate(FROST_TEXTURES):
            raw = cv2.imread(str(textures.directory / name))
            th, tw = frost_scale(raw.shape[:2], (h, w))
            want = cv2.resize(raw, dsize=(tw, th), interpolation=cv2.INTER_CUBIC)[..., ::-1].astype(np.float64)
            got = textures.resized(h, w)[k].permute(1, 2, 0).double().numpy()
            assert got.shape == want.shape, (name, h, w)
            difference = np.abs(got - want)
            assert difference.max() <= 1 and (difference > 0).mean() < 1e-4, (name, h, w)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_device_changes_float_rounding_at_most(family):
    # The draws are taken on the host, so a GPU computes the same corruption; its arithmetic may
    # round differently, and a truncation to 8 bits (glass blur) may then flip a level locally.
    pixels = to_pixels(SMALL)
    on_cpu = corrupt(pixels, family, 3, seed=5, image_ids=IDS)
    on_gpu = corrupt(pixels.cuda(), family, 3, seed=5, image_ids=IDS)
    assert on_gpu.device.type == "cuda"
    difference = (on_gpu.cpu() - on_cpu).abs()
    assert float(difference.mean()) < 1e-4 and float(difference.max()) < 0.02, (family, float(difference.max()))


def test_the_reference_runs_without_pkg_resources():
    # setuptools >= 81 has no pkg_resources: the stand-in must find frost's textures all the same.
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pkg_resources'] = None\n"
        "from benchmarks.reference_corruptions import load_reference, reference, photographs\n"
        "out = reference(load_reference(), photographs((64, 64))[0], 'frost', 2, seed=0)\n"
        "assert out.shape == (64, 64, 3), out.shape\n"
        "assert type(sys.modules['pkg_resources']).__name__ == 'module'\n"
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**__import__("os").environ, "PYTHONPATH": str(root)})


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_draws_agree_at_224(family):
    image = photographs((224, 224))[2]
    limit, fraction = TOLERANCE[family]
    for severity in SEVERITIES:
        error = truncation_error(aligned(image, family, severity, seed=severity), reference(REF, image, family, severity, seed=severity))
        assert error.max() <= limit and (error > 0.001).mean() <= fraction, (family, severity, error.max())
