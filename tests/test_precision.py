"""Precision settings: what they switch, that they stay inside the engine, and their effect on IoU."""

from __future__ import annotations

import copy

import pytest
import torch

from benchmarks.precision_effect import compare_precisions
from pcgc.compute.cam import normalize_cam
from pcgc.compute.dynamics import PCDynamics
from pcgc.compute.engine import Engine
from pcgc.compute.precision import check_precision, computing_in, prepare_network
from pcgc.spec.hyperparameters import HyperParameters
from tests.conftest import random_mini

CPU = torch.device("cpu")
HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)


@pytest.fixture(scope="module")
def case():
    net = random_mini(2, 4)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(8, 3, 96, 96, generator=generator)
    targets = torch.randint(0, 4, (8,), generator=generator)
    return PCDynamics(net), x, targets


def test_unknown_or_impossible_precisions_are_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"model\.precision: 'fp16' is not one of fp32, tf32, bf16"):
        check_precision("fp16", CPU)
    with pytest.raises(ValueError, match=r"model\.precision: tf32 needs a CUDA device"):
        check_precision("tf32", CPU)
    with pytest.raises(ValueError, match="tf32 needs a CUDA device"):
        Engine(PCDynamics(random_mini(0, 3)), batch_size=2, diagnostics=False, precision="tf32")


def test_bf16_switches_autocast_on_only_inside():
    with computing_in("fp32", CPU):
        assert not torch.is_autocast_enabled("cpu")
    with computing_in("bf16", CPU):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.slow
def test_bf16_results_are_float32_close_to_fp32_and_do_not_leak_between_batches(case):
    dynamics, x, targets = case
    configurations = [HPS, HyperParameters.uniform(5, 0.4, 0.5, 0.01)]
    runs = {}
    for precision in ("fp32", "bf16"):
        blocks = []
        for block in Engine(dynamics, batch_size=8, diagnostics=True, precision=precision).run(x, targets, configurations, 2):
            # The caller's code between two batches runs in its own precision.
            assert not torch.is_autocast_enabled("cpu")
            blocks.append(block)
        assert len(blocks) == 2
        runs[precision] = blocks
    for reference, reduced in zip(runs["fp32"], runs["bf16"]):
        for name in ("cam_raw", "target_logit", "prediction_error"):
            assert getattr(reduced, name).dtype == torch.float32
        difference = (reduced.cam_raw - reference.cam_raw).abs().max() / reference.cam_raw.abs().max()
        # bfloat16 keeps 8 bits of mantissa (0.4% per rounding), and the raw map is a sum of
        # signed channel terms that partly cancel: visibly different, but by percents.
        assert 1e-4 < difference < 0.15
        torch.testing.assert_close(reduced.prediction_error, reference.prediction_error, rtol=0.05, atol=0)


@pytest.mark.slow
def test_bf16_changes_mean_iou_by_little_on_a_fixed_case(case):
    dynamics, x, _ = case
    # The predicted class as the target (a random network's maps for other classes may be zero
    # everywhere), and masks where its fp32 map at t = 0 is high: IoUs are large and bf16 can move them.
    targets = dynamics.net(x).argmax(1)
    (block,) = Engine(dynamics, batch_size=8, diagnostics=False).run(x, targets, [HPS], 0)
    mask_ids = (normalize_cam(block.cam_raw[:, 0], (96, 96)) >= 0.3).to(torch.int32)
    class_id = torch.ones(8, dtype=torch.int64)
    same = compare_precisions(dynamics, x, targets, mask_ids, class_id, HPS, 3, [0.5], other="fp32", batch_size=4)
    assert same.largest_mean_iou_difference == 0 and (same.changed_maps == 0).all()
    effect = compare_precisions(dynamics, x, targets, mask_ids, class_id, HPS, 3, [0.5], other="bf16", batch_size=4)
    assert (effect.mean_iou_reference > 0.5).all()
    assert effect.changed_maps.max() > 0  # the comparison does see bf16's round-off
    # Measured: 0.005 for the mean IoU, 0.021 for one image's IoU. The bootstrap SD of a mean
    # IoU over the demo's 300 images is about 0.01.
    assert effect.largest_mean_iou_difference < 0.01
    assert (effect.image_iou_difference_max < 0.05).all()
    assert (effect.changed_top1 == 0).all()


def test_weights_rounded_once_give_the_numbers_autocast_gives(case):
    dynamics, x, targets = case
    rounded = prepare_network(copy.deepcopy(dynamics.net), "bf16")
    assert rounded.pmodules[1][0].weight.dtype == torch.bfloat16
    batch_norms = [m for m in rounded.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert batch_norms and all(m.running_var.dtype == torch.float32 for m in batch_norms)
    runs = [
        next(Engine(d, batch_size=8, diagnostics=True, precision="bf16").run(x, targets, [HPS], 2))
        for d in (dynamics, PCDynamics(rounded))
    ]
    for name in ("cam_raw", "target_logit", "prediction_error"):
        torch.testing.assert_close(getattr(runs[1], name), getattr(runs[0], name), rtol=0, atol=0)
