"""The localisation metrics beyond IoU: hand-made cases, the NaN policy, and scikit-learn as oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from pcgc.analysis.metrics import (
    METRICS,
    average_precision_from_counts,
    energy_pointing,
    mask_auroc,
    mask_average_precision,
    pixel_counts,
    pointing_game,
    score_maps,
)
from pcgc.spec.metrics import Score, configured_scores


def _masks(shape=(4, 4)):
    truth = np.zeros(shape, dtype=bool)
    truth[:2, :2] = True  # 4 of 16 pixels
    return truth, np.ones(shape, dtype=bool)


def test_energy_is_the_share_of_mass_on_the_object():
    truth, valid = _masks()
    cam = np.zeros((4, 4))
    cam[0, 0], cam[3, 3] = 0.75, 0.25
    assert energy_pointing(cam, truth, valid) == pytest.approx(0.75)
    # Mass on ignore pixels counts nowhere.
    valid[3, 3] = False
    assert energy_pointing(cam, truth, valid) == pytest.approx(1.0)


def test_pointing_game_hit_miss_and_tolerance():
    truth, valid = _masks()
    cam = np.zeros((4, 4))
    cam[3, 3] = 1.0  # distance from (1, 1): sqrt(8) ~ 2.83
    np.testing.assert_array_equal(pointing_game(cam, truth, valid, [0, 2, 2.82, 2.83]), [0, 0, 0, 1])
    cam[1, 1] = 1.0  # two maxima, one on the object: the expected hit of a random choice
    assert pointing_game(cam, truth, valid, [0])[0] == 0.5
    # The maximum is taken over valid pixels only.
    valid[1, 1] = False
    assert pointing_game(cam, truth, valid, [0])[0] == 0.0


def test_ties_at_the_maximum_score_the_share_of_hits():
    truth, valid = _masks()
    cam = np.full((4, 4), 0.2)
    cam[0, :] = 0.9  # four maxima: two on the object
    assert pointing_game(cam, truth, valid, [0])[0] == 0.5
    assert pointing_game(cam, truth, valid, [1])[0] == 0.75  # (0, 2) touches the object


def test_a_constant_map_scores_chance():
    truth, valid = _masks()
    cam = np.zeros((4, 4))  # what normalize_cam makes of a constant raw map
    assert mask_auroc(cam, truth, valid) == 0.5
    assert mask_average_precision(cam, truth, valid) == pytest.approx(4 / 16)
    assert energy_pointing(cam, truth, valid) == pytest.approx(4 / 16)
    assert pointing_game(cam, truth, valid, [0])[0] == pytest.approx(4 / 16)
    valid[3] = False  # chance among the valid pixels
    assert energy_pointing(cam, truth, valid) == pytest.approx(4 / 12)
    assert mask_average_precision(cam, truth, valid) == pytest.approx(4 / 12)


def test_an_empty_or_ignored_object_is_nan_never_a_hit():
    truth, valid = _masks()
    cam = np.zeros((4, 4))
    cam[0, 0] = 1.0
    empty = np.zeros_like(truth)
    counts = pixel_counts(cam, empty, valid, 10)
    for object_mask, valid_mask in ((empty, valid), (truth, ~truth), (truth, np.zeros_like(valid))):
        assert np.isnan(energy_pointing(cam, object_mask, valid_mask))
        assert np.isnan(pointing_game(cam, object_mask, valid_mask, [0, 5])).all()
        assert np.isnan(mask_auroc(cam, object_mask, valid_mask))
        assert np.isnan(mask_average_precision(cam, object_mask, valid_mask))
    assert np.isnan(average_precision_from_counts(counts))
    # AUROC needs background too; AP does not.
    assert np.isnan(mask_auroc(cam, truth, truth)) and mask_average_precision(cam, truth, truth) == 1.0


def test_ranking_metrics_equal_scikit_learn_with_ties_and_ignore_pixels():
    rng = np.random.default_rng(0)
    cam = np.round(rng.random((3, 4, 7, 6)), 1)  # coarse values: many ties
    truth = rng.random((3, 1, 7, 6)) > 0.6
    valid = rng.random((3, 1, 7, 6)) > 0.2
    auroc, ap = mask_auroc(cam, truth, valid), mask_average_precision(cam, truth, valid)
    assert auroc.shape == ap.shape == (3, 4)
    for i in range(3):
        for t in range(4):
            labels, values = truth[i, 0][valid[i, 0]], cam[i, t][valid[i, 0]]
            assert auroc[i, t] == pytest.approx(roc_auc_score(labels, values), abs=1e-12)
            assert ap[i, t] == pytest.approx(average_precision_score(labels, values), abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_ranking_metrics_sort_every_precision_and_negative_zero_as_scikit_learn(dtype):
    """The pixels are sorted by their values' bit patterns (pcgc.analysis.metrics._sorted_keys): -0.0
    must tie with 0.0, and each precision must keep its own distinct values."""
    rng = np.random.default_rng(1)
    cam = torch.from_numpy(np.round(rng.random((5, 3, 9, 8)), 2)).to(dtype)
    cam[cam < 0.2] = -0.0
    cam[0, 0, 0, :4] = torch.tensor([0.5, 0.5 + 2e-4, 0.5 + 1e-12, 1.0], dtype=torch.float64).to(dtype)
    truth = torch.from_numpy(rng.random((5, 1, 9, 8)) > 0.5)
    valid = torch.from_numpy(rng.random((5, 1, 9, 8)) > 0.1)
    auroc, ap = mask_auroc(cam, truth, valid), mask_average_precision(cam, truth, valid)
    for i in range(5):
        for t in range(3):
            labels, values = truth[i, 0][valid[i, 0]].numpy(), cam[i, t][valid[i, 0]].double().numpy()
            assert float(auroc[i, t]) == pytest.approx(roc_auc_score(labels, values), abs=1e-12)
            assert float(ap[i, t]) == pytest.approx(average_precision_score(labels, values), abs=1e-12)


def test_pxap_equals_scikit_learn_on_the_pooled_pixels():
    rng = np.random.default_rng(1)
    bins = 20
    # Values at bin centres (and 1.0, which falls in the last bin), so the bins are the distinct values.
    cam = (rng.integers(0, bins, size=(5, 2, 6, 6)) + 0.5) / bins
    cam[0, :, 0, 0] = 1.0
    truth = rng.random((5, 1, 6, 6)) > 0.5
    valid = rng.random((5, 1, 6, 6)) > 0.1
    counts = pixel_counts(cam, truth, valid, bins)
    assert counts.shape == (2, 5, 2, bins) and counts.sum() == valid.sum() * 2
    pxap = average_precision_from_counts(counts.sum(axis=1))
    labels = np.broadcast_to(truth, cam.shape)
    mask = np.broadcast_to(valid, cam.shape)
    for t in range(2):
        values = np.minimum(cam[:, t], (bins - 0.5) / bins)[mask[:, t]]
        assert pxap[t] == pytest.approx(average_precision_score(labels[:, t][mask[:, t]], values), abs=1e-12)


def test_torch_and_numpy_agree_and_every_metric_is_registered():
    rng = np.random.default_rng(2)
    cam = rng.random((2, 3, 5, 5)).astype(np.float32)
    truth, valid = rng.random((2, 1, 5, 5)) > 0.5, rng.random((2, 1, 5, 5)) > 0.1
    tensors = [torch.from_numpy(a) for a in (cam, truth, valid)]
    for function in (energy_pointing, mask_auroc, mask_average_precision):
        np.testing.assert_array_equal(function(*tensors).numpy(), function(cam, truth, valid))
    np.testing.assert_array_equal(pointing_game(*tensors, [0, 1]).numpy(), pointing_game(cam, truth, valid, [0, 1]))
    assert sorted(METRICS) == ["auroc", "average_precision", "energy_pointing", "iou", "pointing_game", "pxap"]


def test_scores_of_the_config_and_their_validation():
    settings = {"metrics": ["auroc", "iou", "pointing_game"], "thresholds": [0.3, 0.5], "pointing_tolerances": [0]}
    assert configured_scores(settings) == [Score("auroc", None), Score("iou", 0.3), Score("iou", 0.5), Score("pointing_game", 0.0)]
    with pytest.raises(ValueError, match="unknown metric 'dice'"):
        Score("dice", None)
    with pytest.raises(ValueError, match="metric 'iou' takes a threshold"):
        Score("iou", None)
    with pytest.raises(ValueError, match="pxap.*dataset-level"):
        score_maps(torch.zeros(1, 1, 2, 2), torch.zeros(1, 4, 4, dtype=torch.int32), torch.zeros(1), [Score("pxap", None)])


def test_score_maps_runs_every_metric_on_raw_maps():
    rng = np.random.default_rng(3)
    raw = torch.from_numpy(rng.normal(size=(3, 2, 4, 4)).astype(np.float32))
    ids = torch.from_numpy(rng.integers(0, 3, size=(3, 8, 8)).astype(np.int32))
    scores = configured_scores(
        {"metrics": ["iou", "energy_pointing", "pointing_game", "auroc", "average_precision"], "thresholds": [0.5], "pointing_tolerances": [0, 2]}
    )
    values = score_maps(raw, ids, torch.tensor([1, 2, 0]), scores)
    assert values.shape == (6, 3, 2) and bool(((values >= 0) & (values <= 1)).all())
    # One at a time gives the same numbers as all at once (the shared sort changes nothing).
    for k, score in enumerate(scores):
        np.testing.assert_array_equal(score_maps(raw, ids, torch.tensor([1, 2, 0]), [score])[0], values[k])
