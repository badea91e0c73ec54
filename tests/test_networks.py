"""The network records (pcgc.spec.networks) against their builders, and that a new network is one
record plus one builder module."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from benchmarks.costmodel import CostModel
from pcgc.cli import main as cli
from pcgc.compute.networks import build_network
from pcgc.spec.config import validate_config
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.job_resources import NetworkJobs
from pcgc.spec.networks import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NETWORKS,
    NetworkRecord,
    NetworkWeights,
    PCoderSpec,
    WeightFile,
    fetched_network,
)
from pcgc.spec.provenance import unused_spec_modules
from pcgc.storage.checkpoints import save_network_weights
from pcgc.storage.fetch import fetch_weights, published_sources, sha256_file
from pcgc.storage.network_inputs import load_dynamics
from tests.http_fixture import FileServer, Route
from tests.workflow_helpers import REPO, default_config

# A network whose classes the dataset decides is built with this many.
SOME_CLASSES = 6


def check_record_against_builder(record: NetworkRecord) -> None:
    """What the record says is what its builder builds."""
    num_classes = record.num_classes or SOME_CLASSES
    with torch.device("meta"):  # shapes are all these checks and the cost model need
        net = build_network(record.name, num_classes)
    assert net.name == record.name
    assert net.num_pcoders == record.num_pcoders and net.pcoders == record.pcoders
    modules = dict(net.backbone.named_modules())
    x = torch.zeros(1, 3, record.input_size, record.input_size, device="meta")
    seen = {}

    def record_shape(name):
        def hook(module, inputs, output):
            seen[name] = output.shape

        return hook

    for pcoder in record.pcoders:
        assert pcoder.module in modules, f"{record.name}: a PCoder sits on {pcoder.module!r}, which the backbone lacks"
        modules[pcoder.module].register_forward_hook(record_shape(pcoder.module))
    assert tuple(net(x).shape) == (1, num_classes)
    # PCoder n's representation (the output of stage n) is its attach point's output.
    rep = x
    for stage, pcoder in zip(net.stages, record.pcoders):
        rep = stage(rep)
        assert rep.shape == seen[pcoder.module], f"{record.name}: the stage of the PCoder at {pcoder.module} gives {rep.shape}"
    # Each predictor predicts what lies below it, at the record's input size and at the smallest
    # other sizes it allows.
    sizes = [record.input_size] if record.fixed_input else [record.input_size, record.input_multiple, 3 * record.input_multiple]
    for size in sizes:
        below = torch.zeros(1, 3, size, size, device="meta")
        for stage, pmodule in zip(net.stages, net.pmodules):
            rep = stage(below)
            assert pmodule(rep).shape == below.shape, f"{record.name}: a predictor at {size} x {size} gives {pmodule(rep).shape}, not {below.shape}"
            below = rep
    # The head layer (the CAM layer `head`) is the output of the module the record names.
    assert net.head_layer == record.head_layer
    if record.head_layer is not None:
        modules[record.head_layer].register_forward_hook(record_shape(record.head_layer))
        net(x)
        assert net.head_parts[0](rep_top(net, x)).shape == seen[record.head_layer]
    assert [p.has_feedback for p in net.pcoders] == record.has_feedback
    assert record.has_feedback == [True] * (record.num_pcoders - 1) + [False]
    assert net.input_size == record.input_size
    assert (net.mean, net.std) == (record.mean, record.std)
    assert net.num_classes == num_classes
    # The cost the run time limits are computed from: an upper bound, and a close one.
    counted = CostModel.of(net).everything()
    assert counted <= record.gmacs_per_step < 1.01 * counted, f"{record.name}: python benchmarks/costmodel.py {record.name} counts {counted}"


def rep_top(net, x: torch.Tensor) -> torch.Tensor:
    for stage in net.stages:
        x = stage(x)
    return x


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_built_network_is_what_its_record_says(name):
    assert NETWORKS[name].name == name
    check_record_against_builder(NETWORKS[name])


def test_the_records_weight_files():
    pvgg16, mini = NETWORKS["pvgg16"], NETWORKS["mini"]
    assert pvgg16.backbone_file() == "vgg16_imagenet1k_v1.pth"
    assert pvgg16.pmodule_files() == [f"pvgg16_imagenet_pretrained_pc{n}_pmodule.pth" for n in range(1, 6)]
    assert pvgg16.archive_members() == pvgg16.pmodule_files()  # Predify's archive uses the same names
    assert pvgg16.weights.feedback_archive.format == "predify_pmodule_zip"
    assert pvgg16.published and pvgg16.num_classes == 1000
    assert mini.backbone_file() == "mini_backbone.pth"
    assert mini.pmodule_files() == [f"mini_demo_pc{n}_pmodule.pth" for n in range(1, 6)]
    assert not mini.published and mini.num_classes is None  # trained by the demo, on the demo's classes
    # A demo configuration's `weights` section names the paper's network.
    assert fetched_network("mini") is pvgg16 and fetched_network("pvgg16") is pvgg16


def test_predifys_hyperparameters_are_the_papers_hps_0():
    predify = NETWORKS["pvgg16"].hyperparameters["predify"]
    assert predify == HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
    assert NETWORKS["mini"].hyperparameters["predify"] == predify  # mini reuses them
    for path in ("config.yaml", "config/paper.yaml"):
        hps_0 = yaml.safe_load((REPO / path).read_text())["hyperparameters"]["hps_0"]
        assert HyperParameters.from_dict(hps_0) == predify, path


def test_the_costmodel_command_prints_the_count(capsys):
    from benchmarks.costmodel import main

    main(["pvgg16"])
    out = capsys.readouterr().out
    assert "everything  137.457 GMACs per image and timestep" in out and "gmacs_per_step: 137.46" in out


def record(**changes) -> NetworkRecord:
    return dataclasses.replace(NETWORKS["mini"], **changes)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: record(name="Mini"), r"network record 'Mini': a name is lowercase"),
        (lambda: record(builder="pcgc/compute/mini.py"), r"builder 'pcgc/compute/mini.py' is not a dotted module name"),
        (lambda: record(pcoders=(PCoderSpec("features.5", True),)), r"the top PCoder has nothing above it"),
        (lambda: record(pcoders=(PCoderSpec("features.5", True), PCoderSpec("features.5", False))), r"two PCoders sit on the same module"),
        (lambda: record(std=(0.2, 0.2)), r"mean and std need three values"),
        (lambda: record(hyperparameters={"x": HyperParameters.uniform(4, 0.5, 0.1, 0.01)}), r"hyperparameters 'x' have 4 values per coefficient, not 5"),
        (lambda: record(gmacs_per_step=0.0), r"gmacs_per_step 0.0 must be positive"),
        (
            lambda: record(weights=NetworkWeights(WeightFile("b.pth", "state_dict", url="https://x/b.pth"), "p")),
            r"published weights fix the number of classes",
        ),
        (lambda: WeightFile("b.pth", "pickle"), r"b.pth: unknown weight format 'pickle'; known: state_dict, predify_pmodule_zip"),
        (lambda: WeightFile("b.pth", "state_dict", url="ftp://x/b.pth"), r"url 'ftp://x/b.pth' must start with"),
        (lambda: WeightFile("b.pth", "state_dict", sha256="397923af"), r"sha256 must be 64 lowercase hex digits"),
        (lambda: WeightFile("w.zip", "predify_pmodule_zip", members="pc.pth"), r"needs an archive format and a \{n\}"),
        (lambda: NetworkWeights(WeightFile("w.zip", "predify_pmodule_zip"), "p"), r"a backbone is a state_dict"),
    ],
)
def test_a_bad_record_is_refused_with_its_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -------------------------------------------------------------------------------- a new network

TOY_GMACS = 1.67e-4  # the cost model counts 0.000166984 (benchmarks.costmodel.network_cost("toy"))


def toy_record(backbone: WeightFile, archive: WeightFile | None) -> NetworkRecord:
    """A network that pcgc's sources do not know: its builder module lives in tests/."""
    return NetworkRecord(
        name="toy",
        builder="tests.toy_network",
        pcoders=(PCoderSpec("features.1", True), PCoderSpec("features.4", False)),
        input_size=16,
        fixed_input=True,
        input_multiple=2,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=3,
        weights=NetworkWeights(backbone=backbone, pmodule_prefix="toy", feedback_archive=archive),
        hyperparameters={"authors": HyperParameters((0.3, 0.6), (0.2, 0.0), (0.01, 0.01))},
        gmacs_per_step=TOY_GMACS,
    )


def toy_config(record: NetworkRecord, tmp_path: Path) -> dict:
    """The default configuration, switched to the ImageNet-S world running `toy`."""
    config = default_config()
    config["world"] = "imagenet_s"
    config["model"]["spec"] = record.name
    config["selection"].update(resize=record.input_size, crop=record.input_size)
    config["hyperparameters"] = {name: hps.as_dict() for name, hps in record.hyperparameters.items()}
    config["cam"]["layers"] = ["top", "pcoder1"]
    config["figures"]["fig2"].update(hyperparameter_sets=list(record.hyperparameters), layer="pcoder2")
    config["mechanism"] = None  # the demo's names hps_0, a set this network does not have
    config["corruptions"]["families"] = None  # and so does its corruption analysis (off: dormant)
    config["sweeps"] = {}
    config["figures"].update(fig3=None, fig4=None)
    config["weights"]["directory"] = str(tmp_path / "weights")
    return config


@pytest.fixture
def published_toy(monkeypatch, tmp_path):
    """`toy` registered with weights published on a local server: the backbone with its sha256,
    the predictors in a zip under member names of its own."""
    monkeypatch.setitem(NETWORKS, "toy", toy_record(WeightFile("toy_backbone.pth", "state_dict"), None))
    torch.manual_seed(0)
    original = build_network("toy", 3)
    for p in original.pmodules.parameters():
        torch.nn.init.normal_(p, std=0.1)
    release = tmp_path / "release"
    release.mkdir()
    backbone = release / "toy-backbone.pth"
    members = [release / f"predictor_{n}.pth" for n in (1, 2)]
    save_network_weights(original, backbone, members)
    archive = release / "toy_predictors.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in members:
            zf.write(path, f"toy-release/{path.name}")
    with FileServer() as server:
        record = toy_record(
            WeightFile("toy_backbone.pth", "state_dict", url=server.add("/toy-backbone.pth", Route(file=backbone)), sha256=sha256_file(backbone)),
            WeightFile(
                "toy_predictors.zip", "predify_pmodule_zip", url=server.add("/toy_predictors.zip", Route(file=archive)),
                members="predictor_{n}.pth",
            ),
        )
        monkeypatch.setitem(NETWORKS, "toy", record)
        yield record, original, server


def test_a_new_network_is_one_record_and_one_builder_module(published_toy, tmp_path, capsys):
    # Only NETWORKS gained an entry: no pcgc source was edited for `toy`.
    record, original, server = published_toy

    check_record_against_builder(record)

    # The configuration names it; the checks and the defaults come from its record.
    config = validate_config(toy_config(record, tmp_path))
    assert fetched_network("toy") is record
    assert config["weights"]["backbone"] == {"url": record.weights.backbone.url, "path": None, "sha256": record.weights.backbone.sha256}
    assert config["weights"]["feedback_archive"] == published_sources(record)["feedback_archive"].as_dict()
    assert NetworkJobs.from_config(config).gmacs_per_step == TOY_GMACS
    bad = toy_config(record, tmp_path)
    bad["hyperparameters"]["authors"]["beta"].append(0.5)
    with pytest.raises(ValueError, match=r"hyperparameters\.authors\.beta: 3 values, but model toy has 2 PCoders"):
        validate_config(bad)

    # Its weights are fetched as the rule fetches them (scripts/fetch_weights.py), from the record's URLs.
    out = Path(config["weights"]["directory"])
    assert cli(["fetch-weights", str(out), "--network", "toy"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["spec"] == "toy" and manifest == json.loads((out / "manifest.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted([record.backbone_file(), *record.pmodule_files(), "manifest.json"])
    assert [e["source"]["member"] for e in manifest["pmodules"]] == ["toy-release/predictor_1.pth", "toy-release/predictor_2.pth"]
    assert len(server.log) == 2
    assert fetch_weights(out, record, progress=False) == manifest  # a recheck, offline
    assert len(server.log) == 2

    # The stages load the fetched files into the network its builder makes.
    dynamics = load_dynamics(
        "toy", 3, out / record.backbone_file(), [out / name for name in record.pmodule_files()],
        gradient_scaling=False, device=torch.device("cpu"),
    )
    for key, value in original.state_dict().items():
        assert torch.equal(dynamics.net.state_dict()[key], value), key

    # Its builder lives outside pcgc: nothing of pcgc's is its code, and it leaves the others' alone.
    builders = {"pcgc.compute.networks.mini", "pcgc.compute.networks.pvgg16", "pcgc.compute.networks.pefficientnet_b0"}
    assert unused_spec_modules("toy") == builders
    assert unused_spec_modules("pvgg16") == builders - {"pcgc.compute.networks.pvgg16"}


def test_an_unknown_network_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown network 'toy'; known networks: mini, pefficientnet_b0, pvgg16"):
        build_network("toy", 3)
    config = default_config()
    config["model"]["spec"] = "toy"
    with pytest.raises(ValueError, match=r"model\.spec: 'toy' is not one of the networks mini, pefficientnet_b0, pvgg16"):
        validate_config(config)
