"""Training the demo network: the same weights whatever the caller's torch thread count."""

from __future__ import annotations

import warnings

import pytest
import torch

from pcgc.data.demo_world import DemoWorldConfig, demo_wnids, generate_demo_world
from pcgc.data.geometry import Geometry
from pcgc.stages.train_demo import TRAINING_THREADS, TrainingConfig, train_demo_network
from pcgc.storage.checkpoints import read_state_dict

pytestmark = pytest.mark.slow  # trains the demo network twice

WORLD = DemoWorldConfig(seed=1, num_classes=2, train_per_class=8, val_per_class=2, image_height=96, image_width=96)
TRAINING = TrainingConfig(seed=0, epochs=2, batch_size=8, learning_rate=0.002, feedback_epochs=1, feedback_learning_rate=0.002)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("training") / "world"
    generate_demo_world(root, WORLD)
    return root


def train(world, out, threads):
    """Train with the caller's torch set to `threads` threads; the weights and metrics."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        paths = [out / f"pc{n}.pth" for n in range(1, 6)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning from the training loop (e.g. float(loss))
            metrics = train_demo_network(world, demo_wnids(WORLD.num_classes), Geometry(resize=96, crop=96), TRAINING, out / "backbone.pth", paths)
        assert torch.get_num_threads() == threads, "training must leave the caller's thread count as it was"
        return [read_state_dict(p) for p in [out / "backbone.pth", *paths]], metrics
    finally:
        torch.set_num_threads(before)


def test_the_weights_do_not_depend_on_the_callers_thread_count(world, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "four").mkdir()
    one, metrics = train(world, tmp_path / "one", 1)
    four, _ = train(world, tmp_path / "four", 4)
    for a, b in zip(one, four):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key
    assert metrics["torch_threads"] == TRAINING_THREADS
