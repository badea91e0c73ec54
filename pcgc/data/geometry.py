"""Predify's input geometry, applied identically to an image and to its segmentation mask.

Predify feeds PVGG16 with `Resize(size)` (shorter side to `size`, aspect kept) followed by
`CenterCrop(crop)`. Grad-CAM maps live in the cropped frame, so the mask must go through exactly the
same resize and crop to line up with them pixel for pixel. Both paths use torchvision's functional
resize / center_crop on PIL images, so that:

* the image matches what `torchvision.transforms.Compose([Resize(r), CenterCrop(c)])` gives (PIL
  bilinear with antialiasing, long side `int(r * long / short)`, crop offset `int(round(...))`);
* the mask uses the same output size and crop offsets, but nearest-neighbour sampling on the
  class-id array held as a 32-bit integer PIL image: ids are labels, and interpolating them would
  invent classes at boundaries (e.g. halfway between 0 and 1000). PIL samples nearest neighbours at
  pixel centres, the same convention its bilinear filter uses, so the two stay aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

from pcgc.spec.networks import NETWORKS


@dataclass(frozen=True)
class Geometry:
    """Resize the shorter side to `resize`, then take the central `crop` x `crop` square."""

    resize: int
    crop: int

    def __post_init__(self) -> None:
        for name in ("resize", "crop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Geometry.{name} must be a positive int, got {value!r}")
        if self.crop > self.resize:
            # torchvision would pad the crop with zeros, which in a mask reads as "background".
            raise ValueError(
                f"Geometry.crop ({self.crop}) must not exceed Geometry.resize ({self.resize}): "
                "the crop would reach outside the resized image"
            )

    def apply_image(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image -> (crop, crop, 3) uint8 array."""
        if not isinstance(image, Image.Image):
            raise TypeError(f"apply_image expects a PIL image, got {type(image).__name__}")
        if image.mode != "RGB":
            raise ValueError(f"apply_image expects an RGB image, got PIL mode {image.mode!r}")
        resized = TF.resize(image, self.resize, interpolation=InterpolationMode.BILINEAR, antialias=True)
        cropped = TF.center_crop(resized, self.crop)
        out = np.array(cropped, dtype=np.uint8)
        assert out.shape == (self.crop, self.crop, 3), out.shape
        return out

    def apply_mask(self, ids: np.ndarray) -> np.ndarray:
        """Class ids (H, W), any integer dtype -> (crop, crop) int32, nearest-neighbour."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"apply_mask expects class ids of shape (H, W), got shape {ids.shape}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"apply_mask expects integer class ids, got dtype {ids.dtype}")
        info = np.iinfo(np.int32)
        if ids.size and (ids.min() < info.min or ids.max() > info.max):
            raise ValueError("apply_mask: class ids do not fit in int32")
        # A 32-bit integer PIL image ("I") keeps every id exactly through PIL's nearest resize.
        pil = Image.fromarray(np.ascontiguousarray(ids, dtype=np.int32))
        assert pil.mode == "I", pil.mode
        resized = TF.resize(pil, self.resize, interpolation=InterpolationMode.NEAREST)
        cropped = TF.center_crop(resized, self.crop)
        out = np.array(cropped, dtype=np.int32)
        assert out.shape == (self.crop, self.crop), out.shape
        return out

    def describe(self) -> dict[str, Any]:
        """A JSON-ready record of the transform, for provenance in outputs."""
        return {
            "resize": self.resize,
            "crop": self.crop,
            "resize_rule": "shorter side to `resize`, longer side int(resize * long / short) (torchvision Resize)",
            "crop_rule": "central crop x crop square (torchvision CenterCrop)",
            "image_interpolation": "bilinear with antialiasing (torchvision on PIL)",
            "mask_interpolation": "nearest neighbour at pixel centres (PIL, 32-bit integer ids)",
        }


# Predify's transform for PVGG16: Resize(224) + CenterCrop(224).
PREDIFY_GEOMETRY = Geometry(resize=NETWORKS["pvgg16"].input_size, crop=NETWORKS["pvgg16"].input_size)
