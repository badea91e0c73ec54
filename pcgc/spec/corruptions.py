"""The ImageNet-C corruption catalogue (Hendrycks & Dietterich, ICLR 2019), torch-free.

Nineteen families in four groups, each at severities 1-5, named as `imagecorruptions` 1.1.2 names
them (the first fifteen are ImageNet-C's, the last four of `imagecorruptions`' list, speckle noise,
gaussian blur, spatter and saturate, its validation set). This module says *what* exists: which
families draw random numbers (their output depends on the seed), and which need files that are not
code (frost's texture photographs). The kernels are in `pcgc.compute.corruptions`.

Snakemake imports this module at parse time, so a config's families and severities, and whether
frost's textures are at hand, can be checked before any job runs (`validate`, `check_requests`,
`frost_texture_dir`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Family:
    """One corruption family.

    `random`: its output depends on random draws (seeded per image); otherwise it is a fixed
    function of the image. `assets`: names of the files it reads besides the image (empty for
    all but frost).
    """

    name: str
    group: str
    random: bool
    assets: tuple[str, ...] = ()
    description: str = ""


# imagecorruptions' frost draws `np.random.randint(5)`, so only the first five of the six textures
# it ships are ever used.
FROST_TEXTURES: tuple[str, ...] = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")

_FAMILIES: tuple[Family, ...] = (
    Family("gaussian_noise", "noise", True, description="x + N(0, c^2), clipped"),
    Family("shot_noise", "noise", True, description="Poisson(c x) / c, clipped"),
    Family("impulse_noise", "noise", True, description="salt and pepper on a fraction c of the values"),
    Family("speckle_noise", "noise", True, description="x + x N(0, c^2), clipped"),
    Family("defocus_blur", "blur", False, description="anti-aliased disk kernel of radius r"),
    Family("glass_blur", "blur", True, description="Gaussian blur, local pixel shuffling, Gaussian blur"),
    Family("motion_blur", "blur", True, description="1-D Gaussian-weighted streak at a random angle"),
    Family("zoom_blur", "blur", False, description="mean of the image zoomed by a range of factors"),
    Family("gaussian_blur", "blur", False, description="Gaussian filter of standard deviation c"),
    Family("snow", "weather", True, description="zoomed, thresholded, motion-blurred noise flakes on a paler image"),
    Family("frost", "weather", True, FROST_TEXTURES, description="a random crop of a frost photograph blended in"),
    Family("fog", "weather", True, description="a plasma fractal added, contrast rescaled"),
    Family("spatter", "weather", True, description="water drops (severities 1-3) or mud (4-5)"),
    Family("brightness", "digital", False, description="HSV value + c"),
    Family("contrast", "digital", False, description="(x - channel mean) c + channel mean"),
    Family("elastic_transform", "digital", True, description="warp by smoothed random displacement fields"),
    Family("pixelate", "digital", False, description="box downsampling by c, nearest upsampling"),
    Family("jpeg_compression", "digital", False, description="JPEG at quality c"),
    Family("saturate", "digital", False, description="HSV saturation * c1 + c2"),
)

FAMILIES: Mapping[str, Family] = {family.name: family for family in _FAMILIES}
GROUPS: Mapping[str, tuple[str, ...]] = {
    group: tuple(f.name for f in _FAMILIES if f.group == group) for group in ("noise", "blur", "weather", "digital")
}
RANDOM_FAMILIES: tuple[str, ...] = tuple(f.name for f in _FAMILIES if f.random)
DETERMINISTIC_FAMILIES: tuple[str, ...] = tuple(f.name for f in _FAMILIES if not f.random)


def family_errors(family: object, severity: object, where: str = "corruption") -> list[str]:
    """What is wrong with one (family, severity) request, as messages naming `where`; [] if fine."""
    errors = []
    if not isinstance(family, str) or family not in FAMILIES:
        errors.append(f"{where}: unknown corruption family {family!r}; known: {', '.join(FAMILIES)}")
    # bool is an int in Python, but `True` is no severity.
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        errors.append(f"{where}: severity {severity!r} of {family!r} is not an integer in 1-5")
    return errors


def validate(family: object, severity: object, where: str = "corruption") -> Family:
    """The family record of a valid request; ValueError naming the bad family or severity otherwise."""
    errors = family_errors(family, severity, where)
    if errors:
        raise ValueError("; ".join(errors))
    return FAMILIES[family]  # type: ignore[index]


def check_requests(requests: Iterable[tuple[object, object]], where: str = "corruptions") -> list[tuple[str, int]]:
    """Validate many (family, severity) pairs at once: every error is reported together, before
    any work; duplicates are an error too (a duplicated branch would be computed twice)."""
    errors: list[str] = []
    seen: set[tuple[object, object]] = set()
    checked: list[tuple[str, int]] = []
    for k, (family, severity) in enumerate(requests):
        problems = family_errors(family, severity, f"{where}[{k}]")
        errors.extend(problems)
        if not problems:
            if (family, severity) in seen:
                errors.append(f"{where}[{k}]: {family} at severity {severity} is listed twice")
            seen.add((family, severity))
            checked.append((family, severity))  # type: ignore[arg-type]
    if errors:
        raise ValueError("; ".join(errors))
    return checked


class CorruptionUnavailable(RuntimeError):
    """A family that cannot run here (frost without its textures), with the reason."""


def frost_texture_dir(directory: str | Path | None = None) -> Path:
    """The folder holding frost's five textures: `directory` if given, else the `frost/` folder of
    an installed `imagecorruptions` package (found without importing it, which would import OpenCV
    and pkg_resources). CorruptionUnavailable, with the reason, when they cannot be had."""
    if directory is None:
        spec = importlib.util.find_spec("imagecorruptions")
        if spec is None or spec.origin is None:
            raise CorruptionUnavailable(
                "frost needs the five frost photographs (frost1.png ... frost5.jpg) that the "
                "imagecorruptions package ships (Apache-2.0); it is not installed. Install it "
                "(pip install 'pcgc[corruptions]', i.e. imagecorruptions==1.1.2) or give the folder "
                "that holds the textures."
            )
        directory = Path(spec.origin).parent / "frost"
        where = f"the imagecorruptions package's folder {directory}"
    else:
        directory = Path(directory)
        where = f"the frost texture folder {directory}"
    missing = [name for name in FROST_TEXTURES if not (directory / name).is_file()]
    if missing:
        raise CorruptionUnavailable(f"frost cannot run: {where} lacks {', '.join(missing)}")
    return directory


# AlexNet's top-1 error on ImageNet-C, per family at severities 1-5: torchvision's pretrained
# AlexNet on the 50,000 ImageNet validation images as ImageNet-C distributes them (224 x 224,
# lightly compressed JPEGs). ImageNet-C's mCE normalises a network's corruption errors by these
# (Hendrycks & Dietterich, ICLR 2019, section 3); the per-severity values are those given in answer
# to issue 10 of the benchmark's repository (https://github.com/hendrycks/robustness/issues/10,
# "Maybe more detailed robustness results on AlexNet?", January 2019). They cover the
# 15 benchmark families only: speckle noise, gaussian blur, spatter and saturate (ImageNet-C's
# held-out validation corruptions) have no published AlexNet errors. They are meaningful only for
# a network's error on real ImageNet validation images at 224 x 224 (docs/corruptions.md,
# "Robustness beside localisation").
ALEXNET_ERRORS: Mapping[str, tuple[float, float, float, float, float]] = {
    "gaussian_noise": (0.69528, 0.82542, 0.93554, 0.98138, 0.99452),
    "shot_noise": (0.71224, 0.85108, 0.93574, 0.98182, 0.99146),
    "impulse_noise": (0.78374, 0.89808, 0.94870, 0.98720, 0.99548),
    "defocus_blur": (0.65624, 0.73202, 0.85036, 0.91364, 0.94714),
    "glass_blur": (0.64308, 0.75054, 0.88806, 0.91622, 0.93344),
    "motion_blur": (0.58430, 0.70048, 0.82108, 0.89750, 0.92638),
    "zoom_blur": (0.70008, 0.76992, 0.80784, 0.84198, 0.87198),
    "snow": (0.71726, 0.88392, 0.86468, 0.91870, 0.94952),
    "frost": (0.61390, 0.79734, 0.88790, 0.89942, 0.93430),
    "fog": (0.67474, 0.76050, 0.84378, 0.87260, 0.94500),
    "brightness": (0.45140, 0.48502, 0.54048, 0.62166, 0.72440),
    "contrast": (0.64548, 0.76150, 0.88874, 0.97760, 0.99270),
    "elastic_transform": (0.52596, 0.70116, 0.55686, 0.64076, 0.80554),
    "pixelate": (0.52218, 0.54620, 0.73728, 0.87092, 0.91262),
    "jpeg_compression": (0.51002, 0.54718, 0.57294, 0.65458, 0.74778),
}


def alexnet_error(family: str, severity: int) -> float | None:
    """AlexNet's published ImageNet-C error of a family at a severity (None where none is published)."""
    validate(family, severity)
    errors = ALEXNET_ERRORS.get(family)
    return None if errors is None else errors[severity - 1]
