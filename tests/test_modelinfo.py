"""pcgc.spec.networks, the one torch-free description of each network spec, against the networks."""

from __future__ import annotations

import pytest
import torch

from benchmarks.costmodel import CostModel
from pcgc.compute.networks import SPECS, build_network
from pcgc.spec.networks import MODELS
from pcgc.storage.fetch import _FETCHABLE


@pytest.mark.parametrize("spec", sorted(MODELS))
def test_the_built_network_is_what_modelinfo_says(spec):
    info = MODELS[spec]
    with torch.device("meta"):  # shapes are all the cost model needs
        net = build_network(spec, info.num_classes or 6)
    assert net.pcoders == info.pcoders and net.num_pcoders == info.num_pcoders
    assert net.input_size == info.input_size
    assert (net.mean, net.std) == (info.mean, info.std)
    # The cost the run time limits are computed from: an upper bound, and a close one.
    counted = CostModel.of(net).everything()
    assert counted <= info.gmacs_per_step < 1.01 * counted


def test_every_spec_has_a_builder_and_names_its_weight_files():
    assert set(SPECS) == set(MODELS)
    assert MODELS["pvgg16"].pmodule_files() == [f"pvgg16_imagenet_pretrained_pc{n}_pmodule.pth" for n in range(1, 6)]
    assert MODELS["mini"].backbone_file() == "mini_backbone.pth"
    # Only a spec with a published archive can be fetched.
    assert set(_FETCHABLE) == {"pvgg16"}
