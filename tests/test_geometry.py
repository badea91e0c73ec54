import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from pcgc.data.geometry import PREDIFY_GEOMETRY, Geometry

COLOUR = (250, 10, 10)
BACKGROUND = (20, 60, 200)


def _rectangle_scene(height, width, rect, k):
    top, bottom, left, right = rect
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    rgb[:] = BACKGROUND
    rgb[top:bottom, left:right] = COLOUR
    ids = np.zeros((height, width), dtype=np.int32)
    ids[top:bottom, left:right] = k
    return Image.fromarray(rgb), ids


def _boundary_band(region):
    """Pixels within one pixel (8-neighbourhood) of the region's boundary."""
    padded = np.pad(region, 1, mode="edge")
    h, w = region.shape
    shifts = [padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    dilated = np.logical_or.reduce(shifts)
    eroded = np.logical_and.reduce(shifts)
    return dilated & ~eroded


@pytest.mark.parametrize(
    "size, rect, geometry",
    [
        ((90, 150), (30, 60, 40, 110), Geometry(64, 64)),  # landscape, downscale
        ((150, 90), (70, 130, 5, 50), Geometry(64, 48)),  # portrait, crop smaller than resize
        ((40, 70), (8, 30, 30, 65), Geometry(200, 180)),  # upscale
        ((333, 500), (100, 250, 50, 460), PREDIFY_GEOMETRY),  # ImageNet-like 500x333
    ],
)
def test_mask_and_image_line_up(size, rect, geometry):
    image, ids = _rectangle_scene(*size, rect, k=7)
    out_image = geometry.apply_image(image)
    out_ids = geometry.apply_mask(ids)

    pixels = out_image.astype(int)
    coloured = np.abs(pixels - COLOUR).sum(axis=2) < np.abs(pixels - BACKGROUND).sum(axis=2)
    labelled = out_ids == 7
    assert labelled.sum() > 100
    disagree = coloured ^ labelled
    # Only pixels on the rectangle's edge may differ (bilinear blends, nearest picks a side).
    assert not (disagree & ~_boundary_band(labelled)).any()
    assert disagree.sum() <= _boundary_band(labelled).sum() // 2


def test_shifted_mask_would_be_caught():
    # The alignment check above must be able to fail: a mask cropped one pixel-column off is not aligned.
    image, ids = _rectangle_scene(90, 150, (30, 60, 40, 110), k=7)
    geometry = Geometry(64, 64)
    coloured = geometry.apply_image(image)[..., 0] > 135
    shifted = np.roll(geometry.apply_mask(ids), 2, axis=1) == 7
    assert ((coloured ^ shifted) & ~_boundary_band(shifted)).any()


@pytest.mark.parametrize("size", [(333, 500), (500, 375), (224, 224), (97, 131), (300, 301)])
@pytest.mark.parametrize("resize, crop", [(224, 224), (256, 224), (64, 50)])
def test_image_matches_torchvision_exactly(size, resize, crop):
    rng = np.random.default_rng(sum(size) + resize + crop)
    image = Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8))
    expected = np.asarray(transforms.Compose([transforms.Resize(resize), transforms.CenterCrop(crop)])(image))
    out = Geometry(resize, crop).apply_image(image)
    assert out.dtype == np.uint8 and out.shape == (crop, crop, 3)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("size, geometry", [((97, 131), Geometry(50, 40)), ((31, 23), Geometry(120, 100))])
def test_ids_are_never_blended(size, geometry):
    rng = np.random.default_rng(1)
    present = np.array([0, 3, 300, 919, 1000])
    ids = present[rng.integers(0, len(present), size)].astype(np.int32)
    out = geometry.apply_mask(ids)
    assert out.dtype == np.int32 and out.shape == (geometry.crop, geometry.crop)
    assert set(np.unique(out)) <= set(present.tolist())
    assert len(np.unique(out)) == len(present)  # downscaling/upscaling keeps every id somewhere here


def test_mask_nearest_picks_source_pixels():
    # Exact 2x downscale of a 4x6 mask to shorter side 2: nearest at pixel centres picks rows/cols 1, 3, 5.
    ids = np.arange(24, dtype=np.int64).reshape(4, 6) * 41
    out = Geometry(2, 2).apply_mask(ids)
    # Resized to 2x3 = ids[[1, 3]][:, [1, 3, 5]], centre crop keeps columns 0..1 (offset round(0.5) = 0).
    np.testing.assert_array_equal(out, ids[[1, 3]][:, [1, 3]])


def test_output_shapes_for_non_square_inputs():
    geometry = Geometry(32, 24)
    for height, width in [(10, 100), (100, 10), (32, 32)]:
        image = Image.new("RGB", (width, height), (1, 2, 3))
        assert geometry.apply_image(image).shape == (24, 24, 3)
        assert geometry.apply_mask(np.zeros((height, width), np.int16)).shape == (24, 24)


def test_describe_records_the_transform():
    record = Geometry(256, 224).describe()
    assert record["resize"] == 256 and record["crop"] == 224
    assert "nearest" in record["mask_interpolation"]
    assert "bilinear" in record["image_interpolation"]


def test_rejects_bad_settings_and_inputs():
    with pytest.raises(ValueError, match="crop .*must not exceed"):
        Geometry(100, 224)
    with pytest.raises(ValueError, match="resize must be a positive int"):
        Geometry(0, 0)
    with pytest.raises(ValueError, match="crop must be a positive int"):
        Geometry(224, 22.5)
    geometry = Geometry(8, 8)
    with pytest.raises(ValueError, match="RGB image, got PIL mode 'L'"):
        geometry.apply_image(Image.new("L", (10, 10)))
    with pytest.raises(TypeError, match="PIL image"):
        geometry.apply_image(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        geometry.apply_mask(np.zeros((10, 10, 3), np.int32))
    with pytest.raises(TypeError, match="integer class ids"):
        geometry.apply_mask(np.zeros((10, 10), np.float32))
