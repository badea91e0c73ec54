import numpy as np
import pytest

from pcgc.analysis.metrics import iou


def _all_valid(shape):
    return np.ones(shape, dtype=bool)


def test_perfect_overlap_is_one():
    mask = np.zeros((4, 4), dtype=bool)
    mask[1:3, 1:3] = True
    result = iou(mask.astype(float), mask, _all_valid((4, 4)), [0.5])
    assert result.shape == (1,)
    assert result[0] == 1.0


def test_disjoint_is_zero():
    truth = np.zeros((4, 4), dtype=bool)
    truth[:2] = True
    cam = np.zeros((4, 4))
    cam[2:] = 1.0
    assert iou(cam, truth, _all_valid((4, 4)), [0.5])[0] == 0.0


def test_hand_computed_two_by_two_in_four_by_four():
    # Prediction rows 0-1 x cols 0-1 (4 px), truth rows 0-1 x cols 1-2 (4 px):
    # intersection = 2 px (col 1), union = 6 px -> 1/3.
    cam = np.zeros((4, 4))
    cam[0:2, 0:2] = 0.9
    truth = np.zeros((4, 4), dtype=bool)
    truth[0:2, 1:3] = True
    assert iou(cam, truth, _all_valid((4, 4)), [0.5])[0] == pytest.approx(1 / 3)


def test_ignore_pixels_excluded_from_prediction_and_truth():
    cam = np.zeros((4, 4))
    cam[0:2, 0:2] = 0.9
    truth = np.zeros((4, 4), dtype=bool)
    truth[0:2, 1:3] = True
    valid = _all_valid((4, 4))
    # Ignore column 0 (removes 2 predicted-only px) and pixel (0, 2) (removes 1 truth-only px):
    # intersection 2, union 6 - 2 - 1 = 3.
    valid[:, 0] = False
    valid[0, 2] = False
    assert iou(cam, truth, valid, [0.5])[0] == pytest.approx(2 / 3)
    # Everything ignored except the shared pixels -> perfect.
    only_shared = np.zeros((4, 4), dtype=bool)
    only_shared[0:2, 1] = True
    assert iou(cam, truth, only_shared, [0.5])[0] == 1.0


def test_threshold_boundary_counts_as_predicted():
    cam = np.zeros((2, 2))
    cam[0, 0] = 0.5
    truth = np.zeros((2, 2), dtype=bool)
    truth[0, 0] = True
    result = iou(cam, truth, _all_valid((2, 2)), [0.5, np.nextafter(0.5, 1.0)])
    assert result.tolist() == [1.0, 0.0]


def test_several_thresholds_come_first_in_the_output():
    cam = np.array([[0.2, 0.4], [0.6, 0.8]])
    truth = np.array([[False, False], [True, True]])
    result = iou(cam, truth, _all_valid((2, 2)), [0.1, 0.5, 0.7, 1.0])
    np.testing.assert_allclose(result, [2 / 4, 1.0, 1 / 2, 0.0])


def test_all_zero_cam():
    cam = np.zeros((3, 3))
    truth = np.zeros((3, 3), dtype=bool)
    truth[1, 1] = True
    assert iou(cam, truth, _all_valid((3, 3)), [0.5])[0] == 0.0
    empty = np.zeros((3, 3), dtype=bool)
    assert np.isnan(iou(cam, empty, _all_valid((3, 3)), [0.5])[0])


def test_empty_union_is_nan_including_when_everything_is_ignored():
    cam = np.ones((3, 3))
    truth = np.ones((3, 3), dtype=bool)
    nothing_valid = np.zeros((3, 3), dtype=bool)
    assert np.isnan(iou(cam, truth, nothing_valid, [0.5])[0])


def test_broadcast_over_images_and_timesteps_matches_a_loop():
    rng = np.random.default_rng(0)
    n, t, h, w = 3, 4, 6, 5
    cam = rng.random((n, t, h, w))
    truth = rng.random((n, 1, h, w)) > 0.6
    valid = rng.random((n, 1, h, w)) > 0.2
    thresholds = [0.25, 0.5, 0.75]
    result = iou(cam, truth, valid, thresholds)
    assert result.shape == (3, n, t)
    for k, level in enumerate(thresholds):
        for i in range(n):
            for j in range(t):
                pred = (cam[i, j] >= level) & valid[i, 0]
                gt = truth[i, 0] & valid[i, 0]
                union = np.sum(pred | gt)
                expected = np.sum(pred & gt) / union if union else np.nan
                np.testing.assert_equal(result[k, i, j], expected)


@pytest.mark.parametrize("bad", [[0.0], [-0.1], [1.5], [np.nan], [], [[0.5]]])
def test_bad_thresholds_raise(bad):
    with pytest.raises(ValueError, match="threshold"):
        iou(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool), _all_valid((2, 2)), bad)


def test_mismatched_spatial_shape_raises():
    with pytest.raises(ValueError, match="H, W"):
        iou(np.zeros((2, 3)), np.zeros((2, 2), dtype=bool), _all_valid((2, 2)), [0.5])


def test_non_broadcastable_leading_dims_raise():
    with pytest.raises(ValueError, match="broadcast"):
        iou(np.zeros((3, 2, 2)), np.zeros((2, 2, 2), dtype=bool), _all_valid((1, 2, 2)), [0.5])


def test_non_bool_masks_raise():
    labels = np.full((2, 2), 1000, dtype=np.int32)
    with pytest.raises(TypeError, match="foreground"):
        iou(np.zeros((2, 2)), labels, _all_valid((2, 2)), [0.5])
    with pytest.raises(TypeError, match="valid"):
        iou(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool), labels, [0.5])


def test_cam_outside_unit_interval_or_nan_raises():
    masks = (np.zeros((2, 2), dtype=bool), _all_valid((2, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        iou(np.full((2, 2), 1.5), *masks, [0.5])
    with pytest.raises(ValueError, match="non-finite"):
        iou(np.full((2, 2), np.nan), *masks, [0.5])
    with pytest.raises(TypeError, match="float"):
        iou(np.zeros((2, 2), dtype=np.uint8), *masks, [0.5])


def test_thresholds_compare_exactly_in_the_maps_own_precision():
    # float32(0.7) is just below 0.7: as a real number it is not >= 0.7.
    below = np.float32(0.7)
    assert float(below) < 0.7
    cam = np.array([[below, np.nextafter(below, np.float32(1))]], dtype=np.float32)
    truth = np.array([[False, True]])
    assert iou(cam, truth, np.ones_like(truth), [0.7])[0] == 1.0


def test_torch_tensors_give_the_numpy_result():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    cam = rng.random((3, 4, 7, 5)).astype(np.float32)
    truth = rng.random((3, 1, 7, 5)) > 0.5
    valid = rng.random((3, 1, 7, 5)) > 0.1
    expected = iou(cam, truth, valid, [0.3, 0.7])
    got = iou(torch.from_numpy(cam), torch.from_numpy(truth), torch.from_numpy(valid), [0.3, 0.7])
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), expected)
    # and the loop of the independent check above, on float32 maps
    for k, level in enumerate([0.3, 0.7]):
        pred = (cam.astype(np.float64) >= level) & valid
        gt = truth & valid
        np.testing.assert_array_equal(expected[k], (pred & gt).sum((-2, -1)) / (pred | gt).sum((-2, -1)))
