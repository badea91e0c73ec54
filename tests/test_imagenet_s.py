import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import (
    ImageNetS,
    ImageNetSError,
    Sample,
    read_class_list,
    read_imagenet1k_wnids,
)
from pcgc.data.masks import IGNORE_ID, encode_mask
from tests.imagenet_s_fixture import S919_DROPPED, S919_MERGED, build_imagenet_s_tree, s919_class_list

TENCH, GOLDFISH, TIGER_SHARK, GOLDFINCH, TREE_FROG = "n01440764", "n01443537", "n01491361", "n01531178", "n01644373"
SUNGLASS, SUNGLASSES, TOILET_TISSUE = "n04355933", "n04356056", "n15075141"
S50_LIKE = [GOLDFISH, TIGER_SHARK, GOLDFINCH, TREE_FROG]  # the first four classes of ImageNet-S50


def _e(path: Path) -> str:
    """A path as a literal inside a `match=` pattern."""
    return re.escape(str(path))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _reader(tree, **kwargs) -> ImageNetS:
    return ImageNetS(tree["root"], tree["categories_file"], subset=tree["subset"], **kwargs)


@pytest.fixture()
def s50(tmp_path):
    return build_imagenet_s_tree(tmp_path, S50_LIKE, images_per_class=2)


# --------------------------------------------------------------------------------------------------
# Class lists


def test_class_list_with_and_without_trailing_newline(tmp_path):
    expected = [TENCH, GOLDFISH, TOILET_TISSUE]
    assert read_class_list(_write(tmp_path / "a.txt", "\n".join(expected))) == expected
    assert read_class_list(_write(tmp_path / "b.txt", "\n".join(expected) + "\n")) == expected
    # Windows line ends read the same (universal newlines).
    (tmp_path / "c.txt").write_bytes("\r\n".join(expected).encode())
    assert read_class_list(tmp_path / "c.txt") == expected


@pytest.mark.parametrize(
    "text, message",
    [
        (f"{TENCH}\n\n{GOLDFISH}", "line 2: blank line"),
        (f"{TENCH}\n{GOLDFISH}\n\n", "line 3: blank line"),
        (f"{TENCH}\n{GOLDFISH}\n{GOLDFISH}", f"line 3: duplicate wnid {GOLDFISH} \\(first on line 2\\)"),
        (f"{GOLDFISH}\n{TENCH}", f"line 2: {TENCH} comes after {GOLDFISH}; the list must be sorted"),
        (f"{TENCH}\nn0144353", "line 2: malformed wnid 'n0144353'"),
        (f"{TENCH} \n{GOLDFISH}", "line 1: malformed wnid 'n01440764 '"),
        (f"N01440764\n{GOLDFISH}", "line 1: malformed wnid 'N01440764'"),
        ("", "is empty"),
    ],
)
def test_class_list_errors_name_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "bad_list.txt", text)
    with pytest.raises(ImageNetSError, match=f"class list .*bad_list.txt.*{message}"):
        read_class_list(path)


def test_missing_class_list(tmp_path):
    with pytest.raises(FileNotFoundError, match="class list .*nope.txt does not exist"):
        read_class_list(tmp_path / "nope.txt")


def test_imagenet1k_wnids():
    wnids = read_imagenet1k_wnids()
    assert len(wnids) == 1000 == len(set(wnids))
    assert wnids == sorted(wnids)
    assert wnids[0] == TENCH and wnids[1] == GOLDFISH and wnids[-1] == TOILET_TISSUE
    # torchvision's well-known indices: 836 sunglass, 837 sunglasses, 435 bathtub.
    assert wnids.index(SUNGLASS) == 836 and wnids.index(SUNGLASSES) == 837 and wnids.index("n02808440") == 435
    for merged, into in S919_MERGED.items():
        assert merged in wnids and into in wnids
    assert set(S919_DROPPED) <= set(wnids)
    wnids.append("n99999999")  # callers get a copy
    assert len(read_imagenet1k_wnids()) == 1000


def test_s919_class_list_facts():
    s919 = s919_class_list(read_imagenet1k_wnids())
    assert len(s919) == 919 and len(S919_DROPPED) == 76
    assert s919[0] == TENCH and s919[1] == GOLDFISH and s919[-1] == TOILET_TISSUE


# --------------------------------------------------------------------------------------------------
# Listing and class indices


def test_s50_like_samples_match_hand_computed(s50):
    reader = _reader(s50)
    samples = reader.samples()
    # Images are numbered in sorted class order, two per class.
    expected = [
        (f"ILSVRC2012_val_{n:08d}", wnid, class_id)
        for n, (wnid, class_id) in enumerate(
            [(w, i) for w, i in [(GOLDFISH, 1), (TIGER_SHARK, 2), (GOLDFINCH, 3), (TREE_FROG, 4)] for _ in range(2)],
            start=1,
        )
    ]
    assert [(s.image_id, s.wnid, s.class_id) for s in samples] == expected
    root = s50["root"]
    assert samples[0] == Sample(
        image_id="ILSVRC2012_val_00000001",
        image_path=root / "validation" / GOLDFISH / "ILSVRC2012_val_00000001.JPEG",
        mask_path=root / "validation-segmentation" / GOLDFISH / "ILSVRC2012_val_00000001.png",
        wnid=GOLDFISH,
        class_id=1,
        original_wnid=GOLDFISH,
    )
    assert all(s.original_wnid == s.wnid for s in samples)
    # 1k indices: tench 0, goldfish 1, great white shark 2, tiger shark 3, ..., goldfinch 11, tree frog 31.
    assert [reader.cam_target(samples[i]) for i in (0, 2, 4, 6)] == [1, 3, 11, 31]
    assert [reader.cam_target(samples[i], "original") for i in (0, 2, 4, 6)] == [1, 3, 11, 31]
    assert reader.class_id(GOLDFISH) == 1 and reader.classifier_index(GOLDFISH) == 1


def test_samples_sorted_by_wnid_then_image_id(tmp_path):
    # Later classes get lower image numbers, so sorting by image id alone would interleave them.
    build_imagenet_s_tree(tmp_path, [GOLDFISH, TENCH], 2, image_classes=[GOLDFISH], first_image_number=50)
    tree = build_imagenet_s_tree(tmp_path, [GOLDFISH, TENCH], 2, image_classes=[TENCH], first_image_number=90)
    build_imagenet_s_tree(tmp_path, [GOLDFISH, TENCH], 1, image_classes=[GOLDFISH], first_image_number=7)
    ids = [(s.wnid, s.image_id) for s in _reader(tree).samples()]
    assert ids == [
        (TENCH, "ILSVRC2012_val_00000090"),
        (TENCH, "ILSVRC2012_val_00000091"),
        (GOLDFISH, "ILSVRC2012_val_00000007"),
        (GOLDFISH, "ILSVRC2012_val_00000050"),
        (GOLDFISH, "ILSVRC2012_val_00000051"),
    ]


@pytest.fixture()
def s919(tmp_path):
    return build_imagenet_s_tree(
        tmp_path,
        s919_class_list(read_imagenet1k_wnids()),
        images_per_class=2,
        image_classes=[TENCH, GOLDFISH, SUNGLASS, TOILET_TISSUE],
        relabelled={(GOLDFISH, 1): TENCH, (SUNGLASS, 0): SUNGLASSES},
        tag="im919",
    )


def test_s919_like_ids_relabelled_and_merged_images(s919):
    reader = _reader(s919, mapping_file=s919["mapping_file"])
    by_id = {s.image_id: s for s in reader.samples()}
    # Written in sorted class order: tench 1-2, goldfish 3-4, sunglass 5-6, toilet tissue 7-8.
    expected = {
        1: (TENCH, 1, TENCH),
        2: (TENCH, 1, TENCH),
        3: (GOLDFISH, 2, GOLDFISH),
        4: (GOLDFISH, 2, TENCH),  # relabelled: ImageNet-1k said tench, ImageNet-S says goldfish
        5: (SUNGLASS, 783, SUNGLASSES),  # merged class: sunglasses -> sunglass
        6: (SUNGLASS, 783, SUNGLASS),
        7: (TOILET_TISSUE, 919, TOILET_TISSUE),
        8: (TOILET_TISSUE, 919, TOILET_TISSUE),
    }
    assert {int(k[-8:]): (s.wnid, s.class_id, s.original_wnid) for k, s in by_id.items()} == expected
    target = {
        (n, choice): reader.cam_target(by_id[f"ILSVRC2012_val_{n:08d}"], choice)
        for n in (1, 3, 4, 5, 6, 7)
        for choice in ("imagenet_s", "original")
    }
    assert target == {
        (1, "imagenet_s"): 0, (1, "original"): 0,
        (3, "imagenet_s"): 1, (3, "original"): 1,
        (4, "imagenet_s"): 1, (4, "original"): 0,
        (5, "imagenet_s"): 836, (5, "original"): 837,
        (6, "imagenet_s"): 836, (6, "original"): 836,
        (7, "imagenet_s"): 999, (7, "original"): 999,
    }  # fmt: skip
    # The default target is the ImageNet-S class.
    assert reader.cam_target(by_id["ILSVRC2012_val_00000005"]) == 836
    # The mapping file lists exactly the two images whose labels differ, original label first.
    lines = s919["mapping_file"].read_text().split("\n")
    assert lines == [
        f"{TENCH}/ILSVRC2012_val_00000004.JPEG {GOLDFISH}/ILSVRC2012_val_00000004.JPEG",
        f"{SUNGLASSES}/ILSVRC2012_val_00000005.JPEG {SUNGLASS}/ILSVRC2012_val_00000005.JPEG",
    ]


def test_without_mapping_file_original_is_the_folder_class(s919):
    samples = _reader(s919).samples()
    assert all(s.original_wnid == s.wnid for s in samples)


def test_unknown_cam_target(s50):
    reader = _reader(s50)
    with pytest.raises(ValueError, match="unknown cam target 'label'"):
        reader.cam_target(reader.samples()[0], "label")


def test_demo_world_classifier(tmp_path):
    demo = ["n90000000", "n90000001", "n90000002"]
    tree = build_imagenet_s_tree(tmp_path, demo, 1, tag="demo")
    reader = _reader(tree, classifier_wnids=demo)
    assert [reader.cam_target(s) for s in reader.samples()] == [0, 1, 2]
    with pytest.raises(KeyError, match=f"wnid {GOLDFISH} is not one of the classifier's 3 classes"):
        reader.classifier_index(GOLDFISH)
    # With the default 1k classifier the demo classes have no index.
    with pytest.raises(KeyError, match="wnid n90000000 is not one of the classifier's 1000 classes"):
        _reader(tree).cam_target(reader.samples()[0])


def test_bad_classifier_wnids(s50):
    with pytest.raises(ValueError, match="duplicate wnid n01443537 at position 1"):
        _reader(s50, classifier_wnids=[GOLDFISH, GOLDFISH])
    with pytest.raises(ValueError, match=r"classifier_wnids\[0\]: malformed wnid 'goldfish'"):
        _reader(s50, classifier_wnids=["goldfish"])


def test_train_semi_original_label_from_file_name(tmp_path):
    tree = build_imagenet_s_tree(tmp_path, [GOLDFISH, SUNGLASS], 1, subset="train-semi")
    # The official train-semi of a merged class holds images of the merged source class.
    src = tmp_path / "train-semi" / SUNGLASS / f"{SUNGLASS}_1000.JPEG"
    src.rename(src.with_name(f"{SUNGLASSES}_77.JPEG"))
    mask = tmp_path / "train-semi-segmentation" / SUNGLASS / f"{SUNGLASS}_1000.png"
    mask.rename(mask.with_name(f"{SUNGLASSES}_77.png"))
    reader = _reader(tree)
    samples = reader.samples()
    assert [(s.image_id, s.wnid, s.class_id, s.original_wnid) for s in samples] == [
        (f"{GOLDFISH}_1000", GOLDFISH, 1, GOLDFISH),
        (f"{SUNGLASSES}_77", SUNGLASS, 2, SUNGLASSES),
    ]
    assert reader.cam_target(samples[1], "original") == 837
    image, ids = reader.load(samples[1], None)
    assert (ids == 2).any()


def test_train_semi_rejects_mapping_file(tmp_path):
    tree = build_imagenet_s_tree(tmp_path, [GOLDFISH], 1, subset="train-semi")
    mapping = _write(tmp_path / "map.txt", "")
    with pytest.raises(ValueError, match="mapping file .*map.txt given for subset 'train-semi'"):
        _reader(tree, mapping_file=mapping)


def test_train_semi_badly_named_image(tmp_path):
    tree = build_imagenet_s_tree(tmp_path, [GOLDFISH], 1, subset="train-semi")
    for sub, suffix in (("train-semi", "JPEG"), ("train-semi-segmentation", "png")):
        path = tmp_path / sub / GOLDFISH / f"{GOLDFISH}_1000.{suffix}"
        path.rename(path.with_name(f"goldfish_1.{suffix}"))
    with pytest.raises(ImageNetSError, match="train-semi image .*goldfish_1.JPEG: malformed wnid 'goldfish'"):
        _reader(tree).samples()


def test_listing_is_fast(tmp_path):
    # 4000 images (S919 validation has 12419): listing must not open files, so empty ones do.
    classes = [f"n9{i:07d}" for i in range(40)]
    categories = _write(tmp_path / "classes.txt", "\n".join(classes))
    for wnid in classes:
        for sub, suffix in (("validation", ".JPEG"), ("validation-segmentation", ".png")):
            folder = tmp_path / sub / wnid
            folder.mkdir(parents=True)
            for n in range(100):
                os.close(os.open(folder / f"ILSVRC2012_val_{int(wnid[1:]) * 1000 + n:08d}{suffix}", os.O_CREAT | os.O_WRONLY))
    start = time.perf_counter()
    samples = ImageNetS(tmp_path, categories, classifier_wnids=classes).samples()
    elapsed = time.perf_counter() - start
    assert len(samples) == 4000
    assert elapsed < 1.5, f"listing 4000 images took {elapsed:.2f} s"


# --------------------------------------------------------------------------------------------------
# Loading


def test_load_without_geometry(s919):
    reader = _reader(s919, mapping_file=s919["mapping_file"])
    for sample, record in zip(reader.samples(), s919["samples"], strict=True):
        image, ids = reader.load(sample, None)
        assert image.dtype == np.uint8 and image.shape == (36, 52, 3)
        assert ids.dtype == np.int32
        np.testing.assert_array_equal(ids, record["ids"])
        np.testing.assert_array_equal(image, np.asarray(Image.open(sample.image_path).convert("RGB")))
        assert np.abs(image.astype(int) - record["rgb"]).mean() < 3  # JPEG at quality 95
        top, bottom, left, right = record["rect"]
        expected_fg = np.zeros(ids.shape, bool)
        expected_fg[top:bottom, left:right] = True
        np.testing.assert_array_equal(reader.foreground(sample, ids), expected_fg)
        expected_ignore = np.zeros(ids.shape, bool)
        expected_ignore[top - 1 : bottom + 1, left - 1 : right + 1] = True
        expected_ignore[top:bottom, left:right] = False
        np.testing.assert_array_equal(~reader.valid(ids), expected_ignore)


def test_mask_ids_above_255_use_the_green_channel(s919):
    reader = _reader(s919)
    sample = next(s for s in reader.samples() if s.wnid == TOILET_TISSUE)
    raw = np.asarray(Image.open(sample.mask_path))
    assert raw.shape[2] == 3
    assert (raw[..., 2] == 0).all()
    fg = (raw[..., 0] == 151) & (raw[..., 1] == 3)  # 919 = 151 + 3 * 256
    ignore = (raw[..., 0] == 232) & (raw[..., 1] == 3)  # 1000 = 232 + 3 * 256
    assert fg.sum() > 100 and ignore.sum() > 50
    assert ((raw[..., 0] == 0) & (raw[..., 1] == 0) | fg | ignore).all()
    _, ids = reader.load(sample, None)
    assert set(np.unique(ids)) == {0, 919, IGNORE_ID}
    np.testing.assert_array_equal(reader.foreground(sample, ids), fg)
    np.testing.assert_array_equal(reader.valid(ids), ~ignore)


def test_load_with_geometry(s919):
    reader = _reader(s919)
    geometry = Geometry(30, 24)
    for sample, record in zip(reader.samples(), s919["samples"], strict=True):
        image, ids = reader.load(sample, geometry)
        assert image.shape == (24, 24, 3) and image.dtype == np.uint8
        assert ids.shape == (24, 24) and ids.dtype == np.int32
        np.testing.assert_array_equal(ids, geometry.apply_mask(record["ids"]))
        np.testing.assert_array_equal(image, geometry.apply_image(Image.open(sample.image_path).convert("RGB")))
        assert set(np.unique(ids)) <= {0, sample.class_id, IGNORE_ID}


def test_greyscale_jpeg_is_converted_to_rgb(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    Image.open(sample.image_path).convert("L").save(sample.image_path, format="JPEG")
    image, _ = reader.load(sample, None)
    assert image.shape == (36, 52, 3)
    assert (image[..., 0] == image[..., 1]).all()


def test_corrupt_image(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    sample.image_path.write_bytes(b"this is not a JPEG")
    with pytest.raises(ImageNetSError, match=f"cannot read image {_e(sample.image_path)}"):
        reader.load(sample, None)


def test_truncated_image(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    data = sample.image_path.read_bytes()
    sample.image_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageNetSError, match=f"cannot read image {_e(sample.image_path)}"):
        reader.load(sample, None)


def test_corrupt_mask(s50):
    reader = _reader(s50)
    sample = reader.samples()[1]
    data = sample.mask_path.read_bytes()
    sample.mask_path.write_bytes(data[:40])
    with pytest.raises(ImageNetSError, match=f"cannot read mask {_e(sample.mask_path)}"):
        reader.load(sample, None)


def test_image_deleted_after_listing(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    sample.image_path.unlink()
    with pytest.raises(FileNotFoundError, match=f"image {_e(sample.image_path)} does not exist"):
        reader.load(sample, None)


def test_mask_size_differs_from_image(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    Image.fromarray(encode_mask(np.zeros((36, 51), np.int32))).save(sample.mask_path)
    with pytest.raises(ImageNetSError, match=f"mask {_e(sample.mask_path)} is 51x36 \\(WxH\\) but image .* is 52x36"):
        reader.load(sample, None)


def test_mask_with_foreign_ids(s50):
    reader = _reader(s50)
    sample = reader.samples()[2]  # tiger shark, class id 2
    ids = np.zeros((36, 52), np.int32)
    ids[:2, :2] = 2
    ids[5, 5] = 7
    ids[6, 6] = 1
    ids[7, 7] = 2000
    ids[8, 8] = IGNORE_ID
    Image.fromarray(encode_mask(ids)).save(sample.mask_path)
    with pytest.raises(
        ImageNetSError,
        match=f"mask {_e(sample.mask_path)} contains ids other than 0, "
        f"the image's class id 2 \\({TIGER_SHARK}\\) and 1000: 1, 7, 2000$",
    ):
        reader.load(sample, None)


def test_mask_not_rgb(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    Image.fromarray(np.zeros((36, 52), np.uint8)).save(sample.mask_path)
    with pytest.raises(ImageNetSError, match=f"mask {_e(sample.mask_path)} has PIL mode 'L', expected an RGB PNG"):
        reader.load(sample, None)


def test_mask_with_blue_channel(s50):
    reader = _reader(s50)
    sample = reader.samples()[0]
    rgb = np.zeros((36, 52, 3), np.uint8)
    rgb[3, 3, 2] = 1
    Image.fromarray(rgb).save(sample.mask_path)
    with pytest.raises(ImageNetSError, match=f"mask {_e(sample.mask_path)} has a non-zero blue channel"):
        reader.load(sample, None)


# --------------------------------------------------------------------------------------------------
# Tree errors


def test_missing_mask(s50):
    missing = s50["root"] / "validation-segmentation" / TIGER_SHARK / "ILSVRC2012_val_00000004.png"
    missing.unlink()
    with pytest.raises(ImageNetSError, match=f"has no mask: {_e(missing)} is missing"):
        _reader(s50).samples()


def test_missing_mask_folder(s50):
    folder = s50["root"] / "validation-segmentation" / GOLDFINCH
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    with pytest.raises(ImageNetSError, match=f"has no mask: {_e(folder / 'ILSVRC2012_val_00000005.png')} is missing"):
        _reader(s50).samples()


def test_mask_without_image(s50):
    image = s50["root"] / "validation" / GOLDFISH / "ILSVRC2012_val_00000002.JPEG"
    image.unlink()
    with pytest.raises(ImageNetSError, match="mask .*ILSVRC2012_val_00000002.png has no image"):
        _reader(s50).samples()


def test_folder_not_in_class_list(s50):
    stray = s50["root"] / "validation" / TENCH
    stray.mkdir()
    with pytest.raises(ImageNetSError, match=f"folder {_e(stray)} is not a class of class list"):
        _reader(s50).samples()


def test_stray_file_in_class_folder(s50):
    stray = s50["root"] / "validation" / GOLDFISH / "notes.txt"
    stray.touch()
    with pytest.raises(ImageNetSError, match=f"{_e(stray)} is not a .JPEG file"):
        _reader(s50).samples()


def test_missing_paths(s50, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"ImageNet-S root {_e(tmp_path / 'absent')} does not exist"):
        ImageNetS(tmp_path / "absent", s50["categories_file"])
    with pytest.raises(FileNotFoundError, match=f"subset folder {_e(s50['root'] / 'train-semi')} does not exist"):
        ImageNetS(s50["root"], s50["categories_file"], subset="train-semi")
    with pytest.raises(FileNotFoundError, match=f"class list {_e(tmp_path / 'none.txt')} does not exist"):
        ImageNetS(s50["root"], tmp_path / "none.txt")
    with pytest.raises(FileNotFoundError, match=f"mapping file {_e(tmp_path / 'none.txt')} does not exist"):
        ImageNetS(s50["root"], s50["categories_file"], mapping_file=tmp_path / "none.txt")
    with pytest.raises(ValueError, match="unknown ImageNet-S subset 'train'"):
        ImageNetS(s50["root"], s50["categories_file"], subset="train")


def test_missing_segmentation_folder(s50):
    seg = s50["root"] / "validation-segmentation"
    seg.rename(seg.with_name("elsewhere"))
    with pytest.raises(FileNotFoundError, match=f"subset folder {_e(seg)} does not exist"):
        _reader(s50)


GOOD = f"{TENCH}/ILSVRC2012_val_00000003.JPEG {GOLDFISH}/ILSVRC2012_val_00000003.JPEG"


@pytest.mark.parametrize(
    "text, message",
    [
        (f"{GOOD}\n{TENCH}/ILSVRC2012_val_00000004.JPEG", "line 2: expected .*two fields"),
        (f"{GOOD}\n{GOOD} extra", "line 2: expected .*two fields"),
        (f"{TENCH}/a.JPEG  {GOLDFISH}/a.JPEG", "line 1: expected .*two fields"),
        (f"{GOOD}\n\n", "line 2: expected .*two fields"),
        (f"tench/a.JPEG {GOLDFISH}/a.JPEG", "line 1: malformed wnid 'tench'"),
        (f"{TENCH}/a.jpg {GOLDFISH}/a.jpg", "line 1: field 'n01440764/a.jpg' is not"),
        (f"{TENCH}a.JPEG {GOLDFISH}/a.JPEG", "line 1: field 'n01440764a.JPEG' is not"),
        (f"{TENCH}/a.JPEG {GOLDFISH}/b.JPEG", "line 1: the two fields name different files \\('a' and 'b'\\)"),
        (f"{GOOD}\n{GOOD}", "line 2: image ILSVRC2012_val_00000003 already mapped on line 1"),
    ],
)
def test_malformed_mapping_file(s50, tmp_path, text, message):
    mapping = _write(tmp_path / "bad_mapping.txt", text)
    with pytest.raises(ImageNetSError, match=f"mapping file .*bad_mapping.txt {message}"):
        _reader(s50, mapping_file=mapping)


def test_mapping_class_not_in_class_list(s50, tmp_path):
    mapping = _write(tmp_path / "m.txt", f"{GOLDFISH}/x.JPEG {TENCH}/x.JPEG")
    with pytest.raises(ImageNetSError, match=f"m.txt line 1: ImageNet-S class {TENCH} of x is not in class list"):
        _reader(s50, mapping_file=mapping)


def test_mapping_disagrees_with_folder(s50, tmp_path):
    # Image 3 is in the tiger shark folder, the mapping file says goldfish.
    mapping = _write(tmp_path / "m.txt", GOOD)
    message = f"m.txt line 1: puts ILSVRC2012_val_00000003 in class {GOLDFISH}, but the image is in folder .*{TIGER_SHARK}"
    with pytest.raises(ImageNetSError, match=message):
        _reader(s50, mapping_file=mapping).samples()


def test_mapping_names_absent_image(s50, tmp_path):
    name = "ILSVRC2012_val_00000099.JPEG"
    mapping = _write(tmp_path / "m.txt", f"{TENCH}/{name} {GOLDFISH}/{name}")
    with pytest.raises(ImageNetSError, match="m.txt line 1: image ILSVRC2012_val_00000099 is not in"):
        _reader(s50, mapping_file=mapping).samples()


def test_empty_mapping_file_is_allowed(s50, tmp_path):
    reader = _reader(s50, mapping_file=_write(tmp_path / "m.txt", ""))
    assert all(s.original_wnid == s.wnid for s in reader.samples())


def test_names_file_lists_every_image(s919):
    lines = s919["names_file"].read_text().split("\n")
    assert lines[0] == f"{TENCH}/ILSVRC2012_val_00000001.JPEG {TENCH}/ILSVRC2012_val_00000001.png"
    assert len(lines) == 8
    assert not s919["categories_file"].read_text().endswith("\n")
