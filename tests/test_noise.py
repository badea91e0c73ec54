"""Network inputs: Predify's normalisation and noise, per-image seeding; device resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from pcgc.data.noise import make_inputs
from pcgc.spec.networks import IMAGENET_MEAN, IMAGENET_STD
from pcgc.storage.network_inputs import resolve_device

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
IDS = ["a", "b", "c", "d"]
COMMON = {"seed": 3, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def test_clean_inputs_are_torchvision_to_tensor_and_normalize():
    ours = make_inputs(PIXELS, IDS, sigma=0.0, space="normalized", clip=False, **COMMON)
    reference = transforms.Compose([transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    expected = np.stack([reference(Image.fromarray(p)).numpy() for p in PIXELS])
    np.testing.assert_allclose(ours, expected, atol=1e-6)


def test_noise_is_added_after_normalisation_unclipped():
    clean = make_inputs(PIXELS, IDS, sigma=0.0, space="normalized", clip=False, **COMMON)
    noisy = make_inputs(PIXELS, IDS, sigma=0.6, space="normalized", clip=False, **COMMON)
    difference = noisy - clean
    assert abs(difference.std() - 0.6) < 0.01 and abs(difference.mean()) < 0.01
    assert noisy.max() > clean.max() + 1  # nothing clipped


def test_pixel_space_noise_with_clipping_stays_in_the_image_range():
    noisy = make_inputs(PIXELS, IDS, sigma=0.5, space="pixel", clip=True, **COMMON)
    low = (0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    high = (1 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    for c in range(3):
        assert noisy[:, c].min() >= low[c] - 1e-5 and noisy[:, c].max() <= high[c] + 1e-5
        assert np.isclose(noisy[:, c].min(), low[c], atol=1e-5)  # clipping happened


def test_an_images_noise_does_not_depend_on_the_others():
    together = make_inputs(PIXELS, IDS, sigma=0.3, space="normalized", clip=False, **COMMON)
    alone = make_inputs(PIXELS[2:3], IDS[2:3], sigma=0.3, space="normalized", clip=False, **COMMON)
    np.testing.assert_array_equal(together[2:3], alone)
    other_seed = make_inputs(PIXELS, IDS, sigma=0.3, space="normalized", clip=False, seed=4, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    assert not np.allclose(other_seed, together)
    other_sigma = make_inputs(PIXELS, IDS, sigma=0.31, space="normalized", clip=False, **COMMON)
    assert not np.allclose((other_sigma - together) / 0.01, 0)


def test_bad_noise_arguments():
    with pytest.raises(ValueError, match="noise.space"):
        make_inputs(PIXELS, IDS, sigma=0.1, space="latent", clip=False, **COMMON)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        make_inputs(PIXELS, IDS, sigma=-0.1, space="pixel", clip=False, **COMMON)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="extraction.device: 'cuda:0' asked for, but torch sees no CUDA"):
            resolve_device("cuda:0")
