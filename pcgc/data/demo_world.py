"""The offline demo world: a synthetic shape-classification dataset in the ImageNet-S layout.

Each image holds one object whose class is its shape (disk, square, triangle, ...). Colour, texture,
position and rotation are drawn independently of the class, and so is size, except that spiky shapes
are capped below the largest size so that they fit in the centre crop: the shape is the cue. The
object is always brighter than its dim, cluttered background (a smooth gradient with small strokes
and blobs that belong to no class) and the whole image gets mild pixel noise.

Masks are exact: the object is drawn once as a supersampled coverage map, the image is composited
with that coverage, and the mask is read off the same coverage at 1x. Pixels the object covers
fully carry its class id, uncovered pixels 0, and the boundary band the ignore id 1000 (as
ImageNet-S marks ambiguous pixels): the partly covered pixels plus any fully covered pixel that
touches an uncovered one, so that the band always separates object from background.

The tree written by `generate_demo_world` is the ImageNet-S one (docs/imagenet-s.md), so the same
reader handles the demo world and the real dataset:

    ImageNetS_categories_demo.txt      wnids, sorted, one per line, no trailing newline
    class_names.tsv                    wnid<TAB>shape name
    demo_world_config.json             the generating config (provenance)
    validation/<wnid>/ILSVRC2012_val_%08d.JPEG
    validation-segmentation/<wnid>/ILSVRC2012_val_%08d.png
    train/<wnid>/<wnid>_<k>.JPEG
    train-segmentation/<wnid>/<wnid>_<k>.png
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from pcgc.data.masks import BACKGROUND_ID, IGNORE_ID, encode_mask

log = logging.getLogger(__name__)

CATEGORIES_FILENAME = "ImageNetS_categories_demo.txt"
CLASS_NAMES_FILENAME = "class_names.tsv"
CONFIG_FILENAME = "demo_world_config.json"
VALIDATION_STEM = "ILSVRC2012_val_{:08d}"

# Real wnids start with n0 or n1; n9... can never collide with an ImageNet class.
_WNID_BASE = 90_000_000

# Coverage is measured on a SUPERSAMPLE x SUPERSAMPLE grid per pixel: fine enough for smooth edges,
# coarse enough that the boundary band of partly covered pixels stays 1-2 px wide.
SUPERSAMPLE = 4

# The object's circumscribed radius, as a fraction of the centre crop's side, never exceeds this,
# so that the object stays mostly inside the crop; spiky shapes therefore top out at a smaller area.
_MAX_RADIUS_FRACTION = 0.55
# The object's centre may move from the crop centre until its circumscribed circle pokes this far
# (as a fraction of its radius) out of the crop.
_ALLOWED_OVERHANG = 0.15
# Figure and ground differ in luminance with a fixed polarity: the object is always at least
# _MIN_LUMA_CONTRAST grey levels brighter than the (dim, weakly tinted) background; hue and
# saturation stay uniformly random. Measured with the mini network (Adam, 1800 training images):
# with random polarity it sat at chance for 6-8 epochs, with this convention it passed 95% top-1
# within 8-10 epochs. Polarity is the same for every class, so it carries no class information.
_MIN_LUMA_CONTRAST = 60.0
_BACKGROUND_GREY = (20.0, 140.0)
_BACKGROUND_TINT = 25.0
_BACKGROUND_SPREAD = 30.0
_MAX_COLOUR_TRIES = 1000

# Random streams: one per (split, class, image), so that the counts of one split never change the
# other split, and growing a split only adds images (validation numbers are re-permuted, though).
_STREAM_TRAIN = 0
_STREAM_VALIDATION = 1
_STREAM_VALIDATION_STEMS = 2


# --------------------------------------------------------------------------------------------------
# Shapes: primitives in unit coordinates, normalised so that the circumscribed radius is 1.
# A primitive is ("polygon", points, solid) or ("circle", (cx, cy, radius), solid); holes have
# solid=False and are drawn after the solid parts.

Primitive = tuple[str, Any, bool]


def _regular(n: int, radius: float = 1.0, phase: float = -math.pi / 2) -> list[tuple[float, float]]:
    angles = [phase + 2 * math.pi * k / n for k in range(n)]
    return [(radius * math.cos(a), radius * math.sin(a)) for a in angles]


def _star(points: int, inner: float) -> list[tuple[float, float]]:
    outer = _regular(points)
    inner_pts = _regular(points, inner, -math.pi / 2 + math.pi / points)
    return [p for pair in zip(outer, inner_pts) for p in pair]


def _normalised(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    scale = max(math.hypot(x, y) for x, y in points)
    return tuple((x / scale, y / scale) for x, y in points)


_ARM = 0.32
SHAPES: dict[str, tuple[Primitive, ...]] = {
    "disk": (("circle", (0.0, 0.0, 1.0), True),),
    "square": (("polygon", _normalised(_regular(4, phase=math.pi / 4)), True),),
    "triangle": (("polygon", _normalised(_regular(3)), True),),
    "ring": (("circle", (0.0, 0.0, 1.0), True), ("circle", (0.0, 0.0, 0.55), False)),
    "cross": (
        (
            "polygon",
            _normalised(
                [(_ARM, 1), (_ARM, _ARM), (1, _ARM), (1, -_ARM), (_ARM, -_ARM), (_ARM, -1),
                 (-_ARM, -1), (-_ARM, -_ARM), (-1, -_ARM), (-1, _ARM), (-_ARM, _ARM), (-_ARM, 1)]
            ),
            True,
        ),
    ),
    "star": (("polygon", _normalised(_star(5, 0.45)), True),),
    "crescent": (("circle", (0.0, 0.0, 1.0), True), ("circle", (0.42, 0.0, 0.8), False)),
    "bowtie": (
        ("polygon", _normalised([(-1, -0.85), (0, -0.22), (1, -0.85), (1, 0.85), (0, 0.22), (-1, 0.85)]), True),
    ),
}
SHAPE_NAMES: tuple[str, ...] = tuple(SHAPES)
MAX_CLASSES = len(SHAPE_NAMES)


def demo_wnids(num_classes: int) -> list[str]:
    """Synthetic wnids `n9000000k` (k = 1..num_classes): well-formed, sorted, class id = k."""
    _check_num_classes(num_classes, "num_classes")
    return [f"n{_WNID_BASE + k:08d}" for k in range(1, num_classes + 1)]


def demo_class_names(num_classes: int) -> list[str]:
    """Shape names of the first `num_classes` classes, in class-id order."""
    _check_num_classes(num_classes, "num_classes")
    return list(SHAPE_NAMES[:num_classes])


def _check_num_classes(value: object, field: str) -> None:
    if not _is_int(value) or not 2 <= value <= MAX_CLASSES:  # type: ignore[operator]
        raise ValueError(f"{field} must be an integer in [2, {MAX_CLASSES}] (one shape per class), got {value!r}")


# Plain Python numbers only: the config is also written out as JSON.
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class DemoWorldConfig:
    """Everything that determines the demo world; equal configs give byte-identical trees."""

    seed: int
    num_classes: int = 6
    train_per_class: int = 300
    val_per_class: int = 60
    image_height: int = 112
    """Nominal height; each image's height is drawn from image_height +- size_jitter."""
    image_width: int = 128
    """Nominal width; each image's width is drawn from image_width +- size_jitter."""
    size_jitter: int = 8
    min_object_fraction: float = 0.15
    """Smallest object area, as a fraction of the centre crop (the central min(H, W) square)."""
    max_object_fraction: float = 0.45
    """Largest object area; spiky shapes are further capped so that they stay inside the crop."""
    max_rotation_deg: float = 45.0
    """Objects are rotated by a uniform angle in [-max_rotation_deg, max_rotation_deg]. Mostly upright
    objects, as in photographs; with 180 the mini network's training is much less reliable."""
    min_distractors: int = 4
    max_distractors: int = 10
    noise_std: float = 6.0
    """Standard deviation of the Gaussian pixel noise, in 0-255 grey levels."""
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        for name in ("seed", "num_classes", "train_per_class", "val_per_class", "image_height", "image_width",
                     "size_jitter", "min_distractors", "max_distractors", "jpeg_quality"):
            value = getattr(self, name)
            if not _is_int(value):
                raise ValueError(f"DemoWorldConfig.{name} must be an integer, got {value!r}")
        for name in ("min_object_fraction", "max_object_fraction", "max_rotation_deg", "noise_std"):
            value = getattr(self, name)
            if not _is_real(value):
                raise ValueError(f"DemoWorldConfig.{name} must be a finite number, got {value!r}")
        if self.seed < 0:
            raise ValueError(f"DemoWorldConfig.seed must be >= 0, got {self.seed}")
        _check_num_classes(self.num_classes, "DemoWorldConfig.num_classes")
        for name in ("train_per_class", "val_per_class"):
            if getattr(self, name) < 1:
                raise ValueError(f"DemoWorldConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_classes * self.val_per_class > 99_999_999:
            raise ValueError(
                f"DemoWorldConfig.val_per_class={self.val_per_class} gives more validation images than "
                "the 8-digit ILSVRC2012_val_%08d stems can number"
            )
        if self.size_jitter < 0:
            raise ValueError(f"DemoWorldConfig.size_jitter must be >= 0, got {self.size_jitter}")
        for name in ("image_height", "image_width"):
            if getattr(self, name) - self.size_jitter < 48:
                raise ValueError(
                    f"DemoWorldConfig.{name}={getattr(self, name)} minus size_jitter={self.size_jitter} "
                    "must be >= 48 pixels"
                )
        if not 0.02 <= self.min_object_fraction <= self.max_object_fraction:
            raise ValueError(
                f"DemoWorldConfig.min_object_fraction must lie in [0.02, max_object_fraction="
                f"{self.max_object_fraction}], got {self.min_object_fraction}"
            )
        if self.max_object_fraction > 0.6:
            raise ValueError(
                f"DemoWorldConfig.max_object_fraction must be <= 0.6 (larger objects cannot fit in the "
                f"crop), got {self.max_object_fraction}"
            )
        for name in SHAPE_NAMES[: self.num_classes]:
            if self.min_object_fraction > _max_fraction(name, self.max_object_fraction):
                raise ValueError(
                    f"DemoWorldConfig.min_object_fraction={self.min_object_fraction} is larger than the "
                    f"largest {name} that fits in the crop ({_max_fraction(name, 1.0):.3f} of its area)"
                )
        if not 0 <= self.max_rotation_deg <= 180:
            raise ValueError(f"DemoWorldConfig.max_rotation_deg must lie in [0, 180], got {self.max_rotation_deg}")
        if self.min_distractors < 0:
            raise ValueError(f"DemoWorldConfig.min_distractors must be >= 0, got {self.min_distractors}")
        if self.max_distractors < self.min_distractors:
            raise ValueError(
                f"DemoWorldConfig.max_distractors={self.max_distractors} must be >= "
                f"min_distractors={self.min_distractors}"
            )
        if self.noise_std < 0:
            raise ValueError(f"DemoWorldConfig.noise_std must be >= 0, got {self.noise_std}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"DemoWorldConfig.jpeg_quality must lie in [1, 100], got {self.jpeg_quality}")


# --------------------------------------------------------------------------------------------------
# Geometry


def _draw_primitives(
    draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, radius: float, angle: float, scale: float
) -> None:
    """Draw `shape` (circumradius `radius`, rotated by `angle`, centred at cx, cy) in pixel units x scale."""
    cos_a, sin_a = math.cos(angle), math.sin(angle)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return ((cx + radius * (cos_a * x - sin_a * y)) * scale, (cy + radius * (sin_a * x + cos_a * y)) * scale)

    for kind, geometry, solid in sorted(SHAPES[shape], key=lambda p: not p[2]):
        fill = 255 if solid else 0
        if kind == "polygon":
            draw.polygon([to_px(x, y) for x, y in geometry], fill=fill)
        else:
            px, py = to_px(geometry[0], geometry[1])
            r = radius * geometry[2] * scale
            draw.ellipse((px - r, py - r, px + r, py + r), fill=fill)


def _coverage_counts(
    shape: str, cx: float, cy: float, radius: float, angle: float, height: int, width: int
) -> np.ndarray:
    """Number of covered subpixels (0..SUPERSAMPLE**2) per pixel, as int32 (height, width)."""
    canvas = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 0)
    _draw_primitives(ImageDraw.Draw(canvas), shape, cx, cy, radius, angle, SUPERSAMPLE)
    covered = np.asarray(canvas, dtype=np.uint8) > 0
    return covered.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE).sum(axis=(1, 3), dtype=np.int32)


@lru_cache(maxsize=None)
def _unit_area(shape: str) -> float:
    """Area of `shape` at circumradius 1, measured by rasterising it large."""
    radius = 200
    size = 2 * radius + 8
    canvas = Image.new("L", (size, size), 0)
    _draw_primitives(ImageDraw.Draw(canvas), shape, size / 2, size / 2, radius, 0.0, 1)
    return float((np.asarray(canvas) > 0).sum()) / radius**2


def _max_fraction(shape: str, max_object_fraction: float) -> float:
    """Largest crop-area fraction `shape` may take: the config's, or less where it would not fit."""
    return min(max_object_fraction, _unit_area(shape) * _MAX_RADIUS_FRACTION**2)


def _mask_from_counts(counts: np.ndarray, class_id: int) -> np.ndarray:
    """Class id where the object covers a pixel fully, ignore on its boundary, background elsewhere."""
    full = counts == SUPERSAMPLE * SUPERSAMPLE
    empty = counts == 0
    ids = np.full(counts.shape, BACKGROUND_ID, dtype=np.int32)
    ids[~empty] = IGNORE_ID
    # An edge that falls exactly on a pixel border (or a corner that cuts a pixel's corner) leaves
    # a fully covered pixel next to an empty one; such pixels join the band, so that the band
    # separates object from background everywhere, diagonals included.
    padded = np.pad(empty, 1, constant_values=False)
    height, width = counts.shape
    touches_empty = np.zeros_like(empty)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            touches_empty |= padded[dy : dy + height, dx : dx + width]
    ids[full & ~touches_empty] = class_id
    return ids


# --------------------------------------------------------------------------------------------------
# Appearance


_LUMA = np.array([0.299, 0.587, 0.114])


def _object_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A uniformly random colour at least _MIN_LUMA_CONTRAST brighter than `background`."""
    for _ in range(_MAX_COLOUR_TRIES):
        colour = rng.uniform(0.0, 255.0, size=3)
        if float((colour - background) @ _LUMA) >= _MIN_LUMA_CONTRAST:
            return colour
    raise RuntimeError(
        f"no colour {_MIN_LUMA_CONTRAST} grey levels brighter than {background} in {_MAX_COLOUR_TRIES} draws"
    )


def _background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth gradient between four corner colours near a dim, weakly tinted base; returns (image, base)."""
    grey = rng.uniform(*_BACKGROUND_GREY)
    base = np.clip(grey + rng.uniform(-_BACKGROUND_TINT, _BACKGROUND_TINT, size=3), 0.0, 255.0)
    corners = np.clip(base + rng.uniform(-_BACKGROUND_SPREAD, _BACKGROUND_SPREAD, size=(2, 2, 3)), 0.0, 255.0)
    ty = np.linspace(0.0, 1.0, height)[:, None, None]
    tx = np.linspace(0.0, 1.0, width)[None, :, None]
    top = corners[0, 0] * (1 - tx) + corners[0, 1] * tx
    bottom = corners[1, 0] * (1 - tx) + corners[1, 1] * tx
    return top * (1 - ty) + bottom * ty, base


def _draw_distractors(rng: np.random.Generator, image: np.ndarray, count: int) -> np.ndarray:
    """Small strokes and blobs in random colours: clutter that is much smaller than any object."""
    height, width = image.shape[:2]
    canvas = Image.fromarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        if rng.random() < 0.5:
            length, angle = rng.uniform(8.0, 26.0), rng.uniform(0.0, math.pi)
            dx, dy = length * math.cos(angle) / 2, length * math.sin(angle) / 2
            draw.line((x - dx, y - dy, x + dx, y + dy), fill=colour, width=int(rng.integers(1, 4)))
        else:
            rx, ry = rng.uniform(2.0, 7.0), rng.uniform(2.0, 7.0)
            draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour)
    return np.asarray(canvas, dtype=np.float64)


def _fill_texture(rng: np.random.Generator, height: int, width: int, background: np.ndarray) -> np.ndarray:
    """An object fill: solid, stripes, checkerboard or gradient of two colours brighter than the background."""
    first = _object_colour(rng, background)
    second = _object_colour(rng, background)
    kind = int(rng.integers(0, 4))
    angle = rng.uniform(0.0, math.pi)
    period = rng.uniform(6.0, 16.0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u = (xx * math.cos(angle) + yy * math.sin(angle)) / period
    v = (-xx * math.sin(angle) + yy * math.cos(angle)) / period
    if kind == 0:
        weight = np.zeros_like(u)
    elif kind == 1:
        # Smooth-edged stripes: sharp ones would alias into moire after the resize.
        weight = 0.5 + 0.5 * np.tanh(3.0 * np.sin(2 * math.pi * u))
    elif kind == 2:
        weight = 0.5 + 0.5 * np.tanh(3.0 * np.sin(2 * math.pi * u) * np.sin(2 * math.pi * v))
    else:
        weight = (u - u.min()) / max(float(u.max() - u.min()), 1e-9)
    weight = weight[..., None]
    return first * (1 - weight) + second * weight


# --------------------------------------------------------------------------------------------------
# One sample


def draw_sample(rng: np.random.Generator, class_index: int, config: DemoWorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """One image of class `class_index` (0-based) and its mask.

    Returns the image as uint8 (H, W, 3) and the class ids as int32 (H, W): class_index + 1 on the
    object, 0 on the background, 1000 on the object's boundary. H and W are the config's nominal
    size +- size_jitter.
    """
    if not _is_int(class_index) or not 0 <= class_index < config.num_classes:
        raise ValueError(f"class_index must be an integer in [0, {config.num_classes}), got {class_index!r}")
    shape = SHAPE_NAMES[class_index]
    jitter = config.size_jitter
    height = config.image_height + int(rng.integers(-jitter, jitter + 1))
    width = config.image_width + int(rng.integers(-jitter, jitter + 1))

    # The centre crop of Resize + CenterCrop is the central min(H, W) square of the original image.
    crop = min(height, width)
    fraction = rng.uniform(config.min_object_fraction, _max_fraction(shape, config.max_object_fraction))
    radius = math.sqrt(fraction * crop * crop / _unit_area(shape))
    slack = max(0.0, crop / 2 - (1 - _ALLOWED_OVERHANG) * radius)
    cx = width / 2 + rng.uniform(-slack, slack)
    cy = height / 2 + rng.uniform(-slack, slack)
    angle = math.radians(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg))

    background, base = _background(rng, height, width)
    num_distractors = int(rng.integers(config.min_distractors, config.max_distractors + 1))
    background = _draw_distractors(rng, background, num_distractors)
    fill = _fill_texture(rng, height, width, base)

    counts = _coverage_counts(shape, cx, cy, radius, angle, height, width)
    alpha = (counts.astype(np.float64) / (SUPERSAMPLE * SUPERSAMPLE))[..., None]
    image = background * (1 - alpha) + fill * alpha
    if config.noise_std > 0:
        image = image + rng.normal(0.0, config.noise_std, size=image.shape)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return image, _mask_from_counts(counts, class_index + 1)


# --------------------------------------------------------------------------------------------------
# The tree


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def _write_pair(image: np.ndarray, ids: np.ndarray, image_path: Path, mask_path: Path, quality: int) -> None:
    # (H, W, 3) uint8 arrays become RGB images; the mask is RGB too, as ImageNet-S's.
    Image.fromarray(image).save(image_path, format="JPEG", quality=quality)
    Image.fromarray(encode_mask(ids)).save(mask_path, format="PNG")


def generate_demo_world(root: Path, config: DemoWorldConfig) -> dict[str, Any]:
    """Write the demo world under `root` (which must not exist) and return a summary.

    The tree is built in `<root>.partial` (a stale one is removed first) and renamed to `root` at
    the end, so an existing `root` is always complete. Returns counts, wnids, class names and paths.
    """
    root = Path(root)
    if not isinstance(config, DemoWorldConfig):
        raise TypeError(f"config must be a DemoWorldConfig, got {type(config).__name__}")
    if root.exists():
        raise FileExistsError(f"demo world root {root} already exists; remove it or choose another path")
    partial = root.with_name(root.name + ".partial")
    # Left over by an interrupted run: never a finished world, so it is safe to discard.
    if partial.is_dir() and not partial.is_symlink():
        shutil.rmtree(partial)
    elif partial.exists() or partial.is_symlink():
        partial.unlink()
    partial.mkdir(parents=True)

    wnids = demo_wnids(config.num_classes)
    names = demo_class_names(config.num_classes)
    (partial / CATEGORIES_FILENAME).write_text("\n".join(wnids), encoding="utf-8")
    (partial / CLASS_NAMES_FILENAME).write_text(
        "".join(f"{wnid}\t{name}\n" for wnid, name in zip(wnids, names)), encoding="utf-8"
    )
    (partial / CONFIG_FILENAME).write_text(
        json.dumps(asdict(config), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )

    for split in ("train", "validation"):
        for wnid in wnids:
            (partial / split / wnid).mkdir(parents=True)
            (partial / f"{split}-segmentation" / wnid).mkdir(parents=True)

    for class_index, wnid in enumerate(wnids):
        for k in range(config.train_per_class):
            image, ids = draw_sample(_stream(config.seed, _STREAM_TRAIN, class_index, k), class_index, config)
            stem = f"{wnid}_{k + 1}"
            _write_pair(image, ids, partial / "train" / wnid / f"{stem}.JPEG",
                        partial / "train-segmentation" / wnid / f"{stem}.png", config.jpeg_quality)

    # ImageNet's validation numbers interleave the classes; a seeded permutation does the same.
    numbers = _stream(config.seed, _STREAM_VALIDATION_STEMS).permutation(config.num_classes * config.val_per_class) + 1
    for class_index, wnid in enumerate(wnids):
        for k in range(config.val_per_class):
            image, ids = draw_sample(_stream(config.seed, _STREAM_VALIDATION, class_index, k), class_index, config)
            stem = VALIDATION_STEM.format(int(numbers[class_index * config.val_per_class + k]))
            _write_pair(image, ids, partial / "validation" / wnid / f"{stem}.JPEG",
                        partial / "validation-segmentation" / wnid / f"{stem}.png", config.jpeg_quality)

    # On POSIX a rename onto an empty directory would succeed silently; refuse that too.
    if root.exists():
        raise FileExistsError(f"demo world root {root} appeared during generation; the new tree is left at {partial}")
    os.rename(partial, root)
    log.info(
        "demo world: %d classes, %d training and %d validation images of %d x %d (seed %d) -> %s",
        config.num_classes, config.num_classes * config.train_per_class, config.num_classes * config.val_per_class,
        config.image_width, config.image_height, config.seed, root,
    )
    return {
        "root": str(root),
        "categories_file": str(root / CATEGORIES_FILENAME),
        "class_names_file": str(root / CLASS_NAMES_FILENAME),
        "num_classes": config.num_classes,
        "wnids": wnids,
        "class_names": names,
        "num_train": config.num_classes * config.train_per_class,
        "num_validation": config.num_classes * config.val_per_class,
        "train_dir": str(root / "train"),
        "validation_dir": str(root / "validation"),
        "validation_segmentation_dir": str(root / "validation-segmentation"),
    }
