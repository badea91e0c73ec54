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
