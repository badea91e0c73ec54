"""The selection stage: seeded draw, images and masks through one geometry, passed-over images named."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import ImageNetS
from pcgc.data.masks import encode_mask
from pcgc.stages.select_images import select_images
from tests.imagenet_s_fixture import build_imagenet_s_tree

TENCH, GOLDFISH = "n01440764", "n01443537"


@pytest.fixture
def tree(tmp_path):
    tree = build_imagenet_s_tree(tmp_path / "S", [TENCH, GOLDFISH], 3, size=(40, 80))
    # One image whose object sits at the left edge: outside the central 40 x 40 crop.
    outside = tree["samples"][1]
    ids = np.zeros((40, 80), dtype=np.int32)
    ids[10:30, 0:12] = outside["class_id"]
    Image.fromarray(encode_mask(ids)).save(outside["mask_path"])
    return tree, outside


def run(tree, tmp_path, n_images, seed=0):
    dataset = ImageNetS(tree["root"], tree["categories_file"])
    select_images(
        dataset, n_images=n_images, seed=seed, geometry=Geometry(resize=40, crop=40), cam_target="imagenet_s",
        out_h5=tmp_path / "selection.h5", out_table=tmp_path / "selection.csv", description={"test": True},
    )
    return pd.read_csv(tmp_path / "selection.csv")


def test_images_whose_object_is_outside_the_crop_are_passed_over_by_name(tree, tmp_path):
    tree, outside = tree
    # With seed 1 the outside image (sample 1) is not the last of the draw order, so it is met.
    assert np.random.default_rng(1).permutation(6)[-1] != 1
    table = run(tree, tmp_path, n_images=5, seed=1)
    assert len(table) == 5 and outside["image_id"] not in set(table["image_id"])
    with h5py.File(tmp_path / "selection.h5") as h5:
        assert json.loads(h5.attrs["excluded"]) == [outside["image_id"]]
        assert h5["images"].shape == (5, 40, 40, 3) and h5["mask_ids"].shape == (5, 40, 40)
        # Every kept mask has its object in the crop, and the Grad-CAM targets are 1k indices.
        for ids, class_id in zip(h5["mask_ids"][:], h5["class_id"][:]):
            assert (ids == class_id).any()
        assert sorted(h5["cam_target"][:]) == sorted(0 if w == TENCH else 1 for w in table["wnid"])
    assert list(table["image_index"]) == list(range(5))


def test_too_few_usable_images_is_an_error_before_writing(tree, tmp_path):
    tree, _ = tree
    with pytest.raises(ValueError, match=r"only 5 of the dataset's 6 images have their object inside the crop"):
        run(tree, tmp_path, n_images=6)
    with pytest.raises(ValueError, match=r"selection.n_images: 7 images asked for, but the dataset has 6"):
        run(tree, tmp_path, n_images=7)
    assert not (tmp_path / "selection.h5").exists() and not (tmp_path / "selection.csv").exists()


def test_the_draw_is_seeded(tree, tmp_path):
    tree, _ = tree
    first = run(tree, tmp_path / "a", n_images=3, seed=1)
    again = run(tree, tmp_path / "b", n_images=3, seed=1)
    other = [set(run(tree, tmp_path / f"c{s}", n_images=3, seed=s)["image_id"]) for s in range(2, 6)]
    assert list(first["image_id"]) == list(again["image_id"])
    assert any(ids != set(first["image_id"]) for ids in other)
