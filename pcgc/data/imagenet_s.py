"""Reader for ImageNet-S trees (the real dataset and the synthetic demo world share this layout).

Layout (see docs/imagenet-s.md)::

    <root>/validation/<wnid>/<stem>.JPEG            <root>/validation-segmentation/<wnid>/<stem>.png
    <root>/train-semi/<wnid>/<srcwnid>_<k>.JPEG     <root>/train-semi-segmentation/<wnid>/<srcwnid>_<k>.png

`<wnid>` is the image's ImageNet-S class; its class id is its 1-based position in the split's
sorted class list, and the mask marks that class's pixels with that id (0 = background/other,
1000 = ignore). The classifier's class index is the wnid's position in `classifier_wnids`
(by default the 1000 sorted ImageNet-1k wnids, i.e. torchvision's index).

Which class Grad-CAM explains (`cam_target`):

* ``"imagenet_s"`` (the default): the image's ImageNet-S class, mapped to the classifier's index.
  The mask's foreground is always the pixels of the ImageNet-S class, so this is the only choice
  under which the explained class and the scored region are the same class. The two labels differ
  for images that ImageNet-S re-labelled (its annotators judged the original ImageNet label wrong
  for what is depicted) and for the five classes ImageNet-S merged into another (e.g. sunglasses
  n04356056 into sunglass n04355933); in both cases the mask outlines the ImageNet-S class.
* ``"original"``: the image's original ImageNet-1k label (from the official mapping file for
  validation images, from the file name for train-semi images), to reproduce analyses that use
  the classifier's own ground truth. For images that were not re-labelled both choices agree.

Callers record the choice next to every output.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pcgc.data.geometry import Geometry
from pcgc.data.masks import BACKGROUND_ID, IGNORE_ID, decode_mask

SUBSETS = ("validation", "train-semi")
CAM_TARGETS = ("imagenet_s", "original")
DEFAULT_CAM_TARGET = "imagenet_s"
IMAGE_SUFFIX = ".JPEG"
MASK_SUFFIX = ".png"
SEGMENTATION_SUFFIX = "-segmentation"
NUM_IMAGENET1K_CLASSES = 1000

_WNID = re.compile(r"n[0-9]{8}")
_RESOURCE = "resources/imagenet1k_wnids.txt"


class ImageNetSError(ValueError):
    """An ImageNet-S file or tree that does not have the documented format or content."""


# --------------------------------------------------------------------------------------------------
# Class lists


def _check_wnid(value: str, where: str) -> str:
    if not _WNID.fullmatch(value):
        raise ImageNetSError(f"{where}: malformed wnid {value!r} (expected 'n' followed by 8 digits)")
    return value


def read_class_list(path: str | os.PathLike[str]) -> list[str]:
    """One wnid per line, sorted, unique; class id = 1-based line number.

    Official files have no trailing newline; one trailing newline is accepted, anything else
    blank is an error. Older copies of the official S919 list are not sorted: they must be sorted
    first (as the official README says), because the ids in the masks follow the sorted order.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"class list {path} does not exist or is not a file")
    text = path.read_text(encoding="utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise ImageNetSError(f"class list {path} is empty")
    wnids: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"class list {path} line {number}"
        if not line.strip():
            raise ImageNetSError(f"{where}: blank line")
        wnid = _check_wnid(line, where)
        if wnid in first_line:
            raise ImageNetSError(f"{where}: duplicate wnid {wnid} (first on line {first_line[wnid]})")
        if wnids and wnid < wnids[-1]:
            raise ImageNetSError(
                f"{where}: {wnid} comes after {wnids[-1]}; the list must be sorted because class ids "
                "are positions in the sorted list (sort the file first)"
            )
        first_line[wnid] = number
        wnids.append(wnid)
    return wnids


@functools.lru_cache(maxsize=1)
def _imagenet1k_wnids() -> tuple[str, ...]:
    resource = importlib.resources.files("pcgc").joinpath(_RESOURCE)
    with importlib.resources.as_file(resource) as path:
        wnids = read_class_list(path)
        if len(wnids) != NUM_IMAGENET1K_CLASSES:
            raise ImageNetSError(f"{path} holds {len(wnids)} wnids, expected {NUM_IMAGENET1K_CLASSES}")
    return tuple(wnids)


def read_imagenet1k_wnids() -> list[str]:
    """The 1000 ImageNet-1k wnids, sorted: torchvision's class index is the position."""
    return list(_imagenet1k_wnids())


# --------------------------------------------------------------------------------------------------
# Mapping file (original ImageNet-1k label -> ImageNet-S class, validation images)


@dataclass(frozen=True)
class MappingEntry:
    """One line of a mapping file: an image's original 1k label and its ImageNet-S class."""

    original_wnid: str
    imagenet_s_wnid: str
    line: int


def read_mapping(path: str | os.PathLike[str]) -> dict[str, MappingEntry]:
    """Parse `<orig_wnid>/<file>.JPEG <imagenets_wnid>/<file>.JPEG` lines, keyed by file stem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mapping file {path} does not exist or is not a file")
    text = path.read_text(encoding="utf-8")
    if text.endswith("\n"):
        text = text[:-1]
    entries: dict[str, MappingEntry] = {}
    if not text:
        return entries
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"mapping file {path} line {number}"
        fields = line.split(" ")
        if len(fields) != 2:
            raise ImageNetSError(
                f"{where}: expected '<orig_wnid>/<file>{IMAGE_SUFFIX} <imagenets_wnid>/<file>{IMAGE_SUFFIX}' "
                f"(two fields separated by one space), got {line!r}"
            )
        parsed = []
        for field in fields:
            wnid, slash, filename = field.partition("/")
            if not slash or "/" in filename or not filename.endswith(IMAGE_SUFFIX) or filename == IMAGE_SUFFIX:
                raise ImageNetSError(f"{where}: field {field!r} is not '<wnid>/<file>{IMAGE_SUFFIX}'")
            parsed.append((_check_wnid(wnid, where), filename[: -len(IMAGE_SUFFIX)]))
        (original, stem), (imagenet_s, other_stem) = parsed
        if stem != other_stem:
            raise ImageNetSError(f"{where}: the two fields name different files ({stem!r} and {other_stem!r})")
        if stem in entries:
            raise ImageNetSError(f"{where}: image {stem} already mapped on line {entries[stem].line}")
        entries[stem] = MappingEntry(original, imagenet_s, number)
    return entries


# --------------------------------------------------------------------------------------------------
# The reader


@dataclass(frozen=True)
class Sample:
    """One annotated image."""

    image_id: str  # file stem, e.g. ILSVRC2012_val_00000123
    image_path: Path
    mask_path: Path
    wnid: str  # ImageNet-S class (the folder name)
    class_id: int  # 1-based id of `wnid` in the split's class list = its id in the mask
    original_wnid: str  # original ImageNet-1k label (equals `wnid` unless re-labelled/merged)


class ImageNetS:
    """Lists and loads the annotated images of one subset of an ImageNet-S tree."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        categories_file: str | os.PathLike[str],
        subset: str = "validation",
        mapping_file: str | os.PathLike[str] | None = None,
        classifier_wnids: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageNet-S root {self.root} does not exist or is not a directory")
        if subset not in SUBSETS:
            raise ValueError(f"unknown ImageNet-S subset {subset!r}; expected one of {SUBSETS}")
        self.subset = subset
        self.image_dir = self.root / subset
        self.mask_dir = self.root / (subset + SEGMENTATION_SUFFIX)
        for folder in (self.image_dir, self.mask_dir):
            if not folder.is_dir():
                raise FileNotFoundError(f"ImageNet-S subset folder {folder} does not exist or is not a directory")

        self.categories_file = Path(categories_file)
        self.class_wnids: list[str] = read_class_list(self.categories_file)
        self._class_ids = {wnid: i for i, wnid in enumerate(self.class_wnids, start=1)}

        self.mapping_file = None if mapping_file is None else Path(mapping_file)
        if self.mapping_file is not None and subset != "validation":
            # train-semi file names carry the original label themselves (<srcwnid>_<k>.JPEG).
            raise ValueError(
                f"mapping file {self.mapping_file} given for subset {subset!r}: "
                "the official mapping files describe validation images only"
            )
        self._mapping = {} if self.mapping_file is None else read_mapping(self.mapping_file)
        for stem, entry in self._mapping.items():
            if entry.imagenet_s_wnid not in self._class_ids:
                raise ImageNetSError(
                    f"mapping file {self.mapping_file} line {entry.line}: ImageNet-S class "
                    f"{entry.imagenet_s_wnid} of {stem} is not in class list {self.categories_file}"
                )

        wnids = read_imagenet1k_wnids() if classifier_wnids is None else list(classifier_wnids)
        seen: set[str] = set()
        for position, wnid in enumerate(wnids):
            _check_wnid(wnid, f"classifier_wnids[{position}]")
            if wnid in seen:
                raise ValueError(f"classifier_wnids: duplicate wnid {wnid} at position {position}")
            seen.add(wnid)
        self.classifier_wnids: list[str] = wnids
        self._classifier_index = {wnid: i for i, wnid in enumerate(wnids)}
        self._samples: list[Sample] | None = None

    # -- classes -----------------------------------------------------------------------------------

    def class_id(self, wnid: str) -> int:
        """1-based id of an ImageNet-S class in this split (its value in the masks)."""
        try:
            return self._class_ids[wnid]
        except KeyError:
            raise KeyError(f"wnid {wnid} is not in class list {self.categories_file}") from None

    def classifier_index(self, wnid: str) -> int:
        """Position of `wnid` among the classifier's output classes."""
        try:
            return self._classifier_index[wnid]
        except KeyError:
            raise KeyError(
                f"wnid {wnid} is not one of the classifier's {len(self.classifier_wnids)} classes"
            ) from None

    def cam_target(self, sample: Sample, target: str = DEFAULT_CAM_TARGET) -> int:
        """Classifier index of the class Grad-CAM explains: see the module docstring."""
        if target == "imagenet_s":
            return self.classifier_index(sample.wnid)
        if target == "original":
            return self.classifier_index(sample.original_wnid)
        raise ValueError(f"unknown cam target {target!r}; expected one of {CAM_TARGETS}")

    # -- listing -----------------------------------------------------------------------------------

    def samples(self) -> list[Sample]:
        """All annotated images, sorted by wnid then image id (listed once, then cached)."""
        if self._samples is None:
            self._samples = self._list()
        return list(self._samples)

    def _list(self) -> list[Sample]:
        image_folders = _subfolders(self.image_dir)
        for wnid in image_folders:
            if wnid not in self._class_ids:
                raise ImageNetSError(
                    f"folder {self.image_dir / wnid} is not a class of class list {self.categories_file}"
                )
        for wnid in _subfolders(self.mask_dir):
            if wnid not in image_folders:
                raise ImageNetSError(f"mask folder {self.mask_dir / wnid} has no image folder {self.image_dir / wnid}")

        samples: list[Sample] = []
        for wnid in sorted(image_folders):
            image_folder = self.image_dir / wnid
            mask_folder = self.mask_dir / wnid
            stems = _files(image_folder, IMAGE_SUFFIX)
            mask_stems = _files(mask_folder, MASK_SUFFIX) if mask_folder.is_dir() else set()
            for stem in sorted(stems):
                if stem not in mask_stems:
                    raise ImageNetSError(
                        f"image {image_folder / (stem + IMAGE_SUFFIX)} has no mask: "
                        f"{mask_folder / (stem + MASK_SUFFIX)} is missing"
                    )
                samples.append(
                    Sample(
                        image_id=stem,
                        image_path=image_folder / (stem + IMAGE_SUFFIX),
                        mask_path=mask_folder / (stem + MASK_SUFFIX),
                        wnid=wnid,
                        class_id=self._class_ids[wnid],
                        original_wnid=self._original_wnid(wnid, stem, image_folder),
                    )
                )
            orphans = sorted(mask_stems - stems)
            if orphans:
                raise ImageNetSError(
                    f"mask {mask_folder / (orphans[0] + MASK_SUFFIX)} has no image "
                    f"{image_folder / (orphans[0] + IMAGE_SUFFIX)} ({len(orphans)} such masks in {mask_folder})"
                )

        found = {sample.image_id for sample in samples}
        unused = [stem for stem in self._mapping if stem not in found]
        if unused:
            entry = self._mapping[unused[0]]
            raise ImageNetSError(
                f"mapping file {self.mapping_file} line {entry.line}: image {unused[0]} is not in "
                f"{self.image_dir} ({len(unused)} mapped images missing)"
            )
        return samples

    def _original_wnid(self, wnid: str, stem: str, folder: Path) -> str:
        if self.subset == "train-semi":
            image = folder / (stem + IMAGE_SUFFIX)
            source, underscore, _ = stem.partition("_")
            if not underscore:
                raise ImageNetSError(f"train-semi image {image} is not named <srcwnid>_<k>{IMAGE_SUFFIX}")
            return _check_wnid(source, f"train-semi image {image}")
        entry = self._mapping.get(stem)
        if entry is None:
            return wnid
        if entry.imagenet_s_wnid != wnid:
            raise ImageNetSError(
                f"mapping file {self.mapping_file} line {entry.line}: puts {stem} in class "
                f"{entry.imagenet_s_wnid}, but the image is in folder {folder}"
            )
        return entry.original_wnid

    # -- loading -----------------------------------------------------------------------------------

    def load(self, sample: Sample, geometry: Geometry | None) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 (H, W, 3), class ids int32 (H, W)), checked, then `geometry` applied to both."""
        image = _open(sample.image_path, "image").convert("RGB")
        mask_image = _open(sample.mask_path, "mask")
        if mask_image.mode != "RGB":
            raise ImageNetSError(f"mask {sample.mask_path} has PIL mode {mask_image.mode!r}, expected an RGB PNG")
        if mask_image.size != image.size:
            raise ImageNetSError(
                f"mask {sample.mask_path} is {mask_image.size[0]}x{mask_image.size[1]} (WxH) but image "
                f"{sample.image_path} is {image.size[0]}x{image.size[1]}"
            )
        rgb = np.asarray(mask_image)
        if rgb[..., 2].any():
            # Ids are R + 256*G; a non-zero blue channel means this is not an ImageNet-S mask.
            raise ImageNetSError(f"mask {sample.mask_path} has a non-zero blue channel")
        ids = decode_mask(rgb)
        allowed = np.array([BACKGROUND_ID, sample.class_id, IGNORE_ID])
        unknown = np.setdiff1d(np.unique(ids), allowed)
        if unknown.size:
            shown = ", ".join(str(int(v)) for v in unknown[:10])
            raise ImageNetSError(
                f"mask {sample.mask_path} contains ids other than {BACKGROUND_ID}, the image's class id "
                f"{sample.class_id} ({sample.wnid}) and {IGNORE_ID}: {shown}"
                + (f" (and {unknown.size - 10} more)" if unknown.size > 10 else "")
            )
        if geometry is None:
            return np.array(image, dtype=np.uint8), ids
        return geometry.apply_image(image), geometry.apply_mask(ids)

    def foreground(self, sample: Sample, ids: np.ndarray) -> np.ndarray:
        """Pixels of the sample's own ImageNet-S class."""
        return np.asarray(ids) == sample.class_id

    @staticmethod
    def valid(ids: np.ndarray) -> np.ndarray:
        """Pixels that count in scoring (everything but the ignore id)."""
        return np.asarray(ids) != IGNORE_ID


# --------------------------------------------------------------------------------------------------
# Helpers


def _subfolders(folder: Path) -> set[str]:
    names: set[str] = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir():
                raise ImageNetSError(f"{entry.path} is not a class folder: {folder} must hold only <wnid> folders")
            names.add(entry.name)
    return names


def _files(folder: Path, suffix: str) -> set[str]:
    stems: set[str] = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.endswith(suffix) or entry.name == suffix or not entry.is_file():
                raise ImageNetSError(f"{entry.path} is not a {suffix} file: {folder} must hold only {suffix} files")
            stems.add(entry.name[: -len(suffix)])
    return stems


def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        # PIL signals unreadable, truncated and corrupt files with these.
        raise ImageNetSError(f"cannot read {what} {path}: {exc}") from exc
    return image
