"""Builds small ImageNet-S trees in the official layout, for tests of anything that reads them.

    from tests.imagenet_s_fixture import build_imagenet_s_tree

Layout written under `root` (docs/imagenet-s.md)::

    validation/<wnid>/ILSVRC2012_val_%08d.JPEG        (or train-semi/<wnid>/<srcwnid>_<k>.JPEG)
    validation-segmentation/<wnid>/ILSVRC2012_val_%08d.png
    data/categories/ImageNetS_categories_<tag>.txt    sorted wnids, no trailing newline
    data/mapping/ImageNetS_<tag>_mapping_validation.txt   only when `relabelled` is given
    data/names/ImageNetS_<tag>_validation.txt         <wnid>/<stem>.JPEG <wnid>/<stem>.png

Each mask (RGB PNG, id = R + 256*G) holds background 0, a rectangle of the image's class id and a
one-pixel ignore (1000) frame around the rectangle; the image shows the rectangle in a flat colour
on a smooth background, so tests can find it in the pixels too. Everything is deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pcgc.data.masks import BACKGROUND_ID, IGNORE_ID, encode_mask

# The 81 ImageNet-1k classes absent from ImageNet-S919 (76 dropped + the 5 merged ones below), so
# that tests can build the real S919 class list as the 1k list minus these.
S919_MERGED = {
    "n04356056": "n04355933",
    "n04493381": "n02808440",
    "n03642806": "n03832673",
    "n03887697": "n15075141",
    "n04008634": "n03773504",
}
S919_DROPPED = (
    "n02699494 n02776631 n02777292 n02788148 n02791270 n02807133 n02825657 n02837789 n02871525 "
    "n02877765 n02894605 n02927161 n02966193 n02974003 n02977058 n02988304 n03000247 n03032252 "
    "n03042490 n03065424 n03085013 n03089624 n03160309 n03180011 n03208938 n03216828 n03218198 "
    "n03220513 n03290653 n03388043 n03457902 n03459775 n03461385 n03529860 n03637318 n03661043 "
    "n03697007 n03710637 n03710721 n03733281 n03871628 n03899768 n03967562 n04081281 n04111531 "
    "n04152593 n04200800 n04239074 n04251144 n04264628 n04296562 n04357314 n04372370 n04392985 "
    "n04443257 n04462240 n04501370 n04523525 n04592741 n04599235 n06359193 n06785654 n07248320 "
    "n07590611 n07836838 n07892512 n07920052 n09193705 n09288635 n09332890 n09399592 n09421951 "
    "n09428293 n09468604 n09472597 n10148035"
).split()

VALIDATION_STEM = "ILSVRC2012_val_{:08d}"


def s919_class_list(imagenet1k_wnids: list[str]) -> list[str]:
    """The real ImageNet-S919 class list: the sorted 1k wnids minus the 81 absent ones."""
    absent = set(S919_DROPPED) | set(S919_MERGED)
    return [w for w in imagenet1k_wnids if w not in absent]


def _rectangle(index: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the class rectangle: varies per image, >= 2 px from the border."""
    height, width = size
    top = 2 + index % max(1, height // 4)
    left = 2 + (3 * index) % max(1, width // 4)
    bottom = max(top + 2, height - 2 - (index % 3))
    right = max(left + 2, width // 2 + (index % 5))
    return top, min(bottom, height - 2), left, min(right, width - 2)


def _draw(class_id: int, index: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    height, width = size
    top, bottom, left, right = _rectangle(index, size)
    ids = np.full(size, BACKGROUND_ID, dtype=np.int32)
    ids[top - 1 : bottom + 1, left - 1 : right + 1] = IGNORE_ID
    ids[top:bottom, left:right] = class_id
    rows = np.linspace(40, 120, height, dtype=np.float64)[:, None]
    cols = np.linspace(0, 60, width, dtype=np.float64)[None, :]
    rgb = np.empty(size + (3,), dtype=np.uint8)
    rgb[..., 0] = (rows + cols).astype(np.uint8)
    rgb[..., 1] = (rows * 0.5 + 30).astype(np.uint8) + np.zeros((1, width), np.uint8)
    rgb[..., 2] = (cols + 100).astype(np.uint8) + np.zeros((height, 1), np.uint8)
    rgb[top:bottom, left:right] = (240, 200 - (index * 37) % 150, 20)
    return rgb, ids


def build_imagenet_s_tree(
    root: Path,
    classes: list[str],
    images_per_class: int,
    *,
    image_classes: list[str] | None = None,
    subset: str = "validation",
    relabelled: dict[tuple[str, int], str] | None = None,
    size: tuple[int, int] = (36, 52),
    tag: str = "test",
    first_image_number: int = 1,
) -> dict[str, Any]:
    """Write an ImageNet-S tree and return what was written.

    classes: the split's class list (written sorted, as the official files are).
    image_classes: the classes that get `images_per_class` images each (default: all of `classes`).
    relabelled: {(imagenet_s_wnid, k): original_wnid}: the k-th image (0-based) of that class has
        the given original ImageNet-1k label; listed in the mapping file (validation only). When
        None no mapping file is written.
    size: (H, W) of every image and mask.

    Returns {"root", "subset", "categories_file", "mapping_file" (None if not written),
    "names_file", "class_ids" {wnid: id}, "samples": [records sorted by wnid then image_id]} where
    each record holds image_id, wnid, class_id, original_wnid, image_path, mask_path,
    ids (expected decoded mask, int32 (H, W)), rgb (pixels before JPEG) and rect (top, bottom,
    left, right) of the class rectangle.
    """
    root = Path(root)
    class_list = sorted(classes)
    class_ids = {wnid: i for i, wnid in enumerate(class_list, start=1)}
    relabelled = None if relabelled is None else dict(relabelled)
    if relabelled and subset != "validation":
        raise ValueError("relabelled images exist only in the validation subset")

    data = root / "data"
    categories_file = data / "categories" / f"ImageNetS_categories_{tag}.txt"
    categories_file.parent.mkdir(parents=True, exist_ok=True)
    categories_file.write_text("\n".join(class_list), encoding="utf-8")

    records: list[dict[str, Any]] = []
    number = first_image_number
    for wnid in sorted(class_list if image_classes is None else image_classes):
        class_id = class_ids[wnid]
        image_folder = root / subset / wnid
        mask_folder = root / f"{subset}-segmentation" / wnid
        image_folder.mkdir(parents=True, exist_ok=True)
        mask_folder.mkdir(parents=True, exist_ok=True)
        for k in range(images_per_class):
            original = wnid
            if subset == "validation":
                stem = VALIDATION_STEM.format(number)
                if relabelled is not None:
                    original = relabelled.pop((wnid, k), wnid)
            else:
                stem = f"{wnid}_{1000 + k}"
            rgb, ids = _draw(class_id, number, size)
            image_path = image_folder / f"{stem}.JPEG"
            mask_path = mask_folder / f"{stem}.png"
            Image.fromarray(rgb).save(image_path, format="JPEG", quality=95, subsampling=0)
            Image.fromarray(encode_mask(ids)).save(mask_path, format="PNG")
            records.append(
                {
                    "image_id": stem,
                    "wnid": wnid,
                    "class_id": class_id,
                    "original_wnid": original,
                    "image_path": image_path,
                    "mask_path": mask_path,
                    "ids": ids,
                    "rgb": rgb,
                    "rect": _rectangle(number, size),
                }
            )
            number += 1
    if relabelled:
        raise ValueError(f"relabelled names images that were not written: {sorted(relabelled)}")
    records.sort(key=lambda r: (r["wnid"], r["image_id"]))

    mapping_file = None
    if relabelled is not None:
        mapping_file = data / "mapping" / f"ImageNetS_{tag}_mapping_{subset}.txt"
        mapping_file.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{r['original_wnid']}/{r['image_id']}.JPEG {r['wnid']}/{r['image_id']}.JPEG"
            for r in records
            if r["original_wnid"] != r["wnid"]
        ]
        mapping_file.write_text("\n".join(lines), encoding="utf-8")

    names_file = data / "names" / f"ImageNetS_{tag}_{subset}.txt"
    names_file.parent.mkdir(parents=True, exist_ok=True)
    names_file.write_text(
        "\n".join(f"{r['wnid']}/{r['image_id']}.JPEG {r['wnid']}/{r['image_id']}.png" for r in records),
        encoding="utf-8",
    )
    return {
        "root": root,
        "subset": subset,
        "categories_file": categories_file,
        "mapping_file": mapping_file,
        "names_file": names_file,
        "class_ids": class_ids,
        "samples": records,
    }
