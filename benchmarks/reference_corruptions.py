"""`imagecorruptions` 1.1.2, the reference the corruption kernels are tested against, made to run
on today's stack, and helpers that feed pcgc's kernels the very random numbers it draws.

The shims live here, never in pcgc:
- `pkg_resources` (gone from setuptools >= 81): imagecorruptions imports `resource_filename` to find
  its frost textures; where the module is missing, a stand-in resolves paths next to the package.
- scikit-image >= 0.19 renamed `gaussian(multichannel=True)` to `channel_axis=-1` (the old name is
  gone in 0.26): glass_blur and gaussian_blur call the old one.
- NumPy 2 removed `np.float_`; fog's plasma fractal allocates with it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import types
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from pcgc.compute.corruptions import kernel, stack_draws
from pcgc.compute.corruptions.blur import GLASS


def _install_pkg_resources_stand_in() -> None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # setuptools < 81 has it, deprecated
            import pkg_resources  # noqa: F401
    except ImportError:
        stand_in = types.ModuleType("pkg_resources")

        def resource_filename(package: str, path: str) -> str:
            return os.path.join(os.path.dirname(sys.modules[package].__file__), path)

        stand_in.resource_filename = resource_filename
        sys.modules["pkg_resources"] = stand_in


def load_reference() -> types.ModuleType:
    """imagecorruptions.corruptions with `gaussian` taking the old `multichannel` keyword."""
    import warnings

    _install_pkg_resources_stand_in()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module("imagecorruptions.corruptions")
    from skimage.filters import gaussian

    def gaussian_with_multichannel(image, sigma=1, multichannel=None, **kwargs):
        if multichannel:
            kwargs["channel_axis"] = -1
        return gaussian(image, sigma=sigma, **kwargs)

    module.gaussian = gaussian_with_multichannel
    return module


@contextlib.contextmanager
def numpy_float_() -> Iterator[None]:
    """np.float_ for the duration of a reference call (fog)."""
    had = hasattr(np, "float_")
    if not had:
        np.float_ = np.float64
    try:
        yield
    finally:
        if not had:
            del np.float_


@contextlib.contextmanager
def skimage_rng(seed: int) -> Iterator[None]:
    """skimage's random_noise draws from its own default_rng, not np.random: seed it (impulse)."""
    import skimage.util

    original = skimage.util.random_noise

    def seeded(image, **kwargs):
        return original(image, rng=np.random.default_rng(seed), **kwargs)

    skimage.util.random_noise = seeded
    try:
        yield
    finally:
        skimage.util.random_noise = original


def reference(module: types.ModuleType, image: np.ndarray, family: str, severity: int, seed: int) -> np.ndarray:
    """imagecorruptions.corrupt(image uint8 (H, W, 3)) after np.random.seed(seed), as uint8."""
    import imagecorruptions

    np.random.seed(seed)
    with numpy_float_(), skimage_rng(seed):
        return imagecorruptions.corrupt(image, severity=severity, corruption_name=family)


def to_pixels(images: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 [B, H, W, 3] -> float [B, 3, H, W] in [0, 1], as pcgc's inputs hold them."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(dtype) / 255


def glass_offsets(seed: int, severity: int, h: int, w: int) -> np.ndarray:
    """glass_blur's offsets as the reference draws them: one randint(-d, d, size=2) per pixel, after
    np.random.seed(seed) (its only other work, the Gaussian, draws nothing)."""
    _, delta, passes = GLASS[severity - 1]
    rng = np.random.RandomState(seed)
    out = np.zeros((passes, h - 2 * delta, w - 2 * delta, 2), dtype=np.int64)
    for k in range(passes):
        for i, _ in enumerate(range(h - delta, delta, -1)):
            for j, _ in enumerate(range(w - delta, delta, -1)):
                out[k, i, j] = rng.randint(-delta, delta, size=(2,))
    return out


def aligned(image: np.ndarray, family: str, severity: int, seed: int, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """pcgc's kernel on one uint8 image with the reference's own random numbers (np.random seeded
    by `seed`), as float pixels in [0, 255], (H, W, 3)."""
    x = to_pixels(image[None], dtype)
    chosen = kernel(family)
    draws = {}
    if family == "glass_blur":
        draws = {"offsets": torch.from_numpy(glass_offsets(seed, severity, *image.shape[:2]))[None]}
    elif family == "impulse_noise":
        draws = stack_draws([chosen.draw(np.random.default_rng(seed), severity, x[0])], x.device)
    elif chosen.draw is not None:
        draws = stack_draws([chosen.draw(np.random.RandomState(seed), severity, x[0])], x.device)
    out = chosen.apply(x, severity, draws)
    return out[0].permute(1, 2, 0).double().numpy() * 255


def truncation_error(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """How far (in 8-bit levels) our float output lies from the interval [ref, ref + 1) that the
    reference's uint8 truncation of its own float output stands for."""
    ref = ref.astype(np.float64)
    return np.maximum(0.0, np.maximum(ref - ours, ours - (ref + 1)))


def photographs(size: tuple[int, int]) -> np.ndarray:
    """Three natural photographs (scikit-image's bundled data) resized to (H, W), uint8 [3, H, W, 3]."""
    import skimage.data

    h, w = size
    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    return np.stack([np.asarray(Image.fromarray(p).resize((w, h), Image.BILINEAR)) for p in photos])
