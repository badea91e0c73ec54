"""Fixtures shared by several test files."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from pcgc.compute.networks import PredictiveCodingNetwork, build_network
from pcgc.spec.networks import pmodule_filename
from pcgc.storage.fetch import sha256_file


def random_mini(seed: int, num_classes: int) -> PredictiveCodingNetwork:
    """A `mini` network with random predictors of a realistic scale, so that feedback matters."""
    torch.manual_seed(seed)
    net = build_network("mini", num_classes)
    for pmodule in net.pmodules:
        for p in pmodule.parameters():
            torch.nn.init.normal_(p, std=0.05)
    return net


PMODULE_NAMES = [pmodule_filename("pvgg16_imagenet_pretrained", k) for k in range(1, 6)]


class CodeOnLoad:
    """Unpickles by calling open(marker, 'w'): a harmless stand-in for code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _zip(path: Path, members: dict[str, Path]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for arcname, file in members.items():
            zf.write(file, arcname)
    return path


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory):
    """PVGG16 files in the published formats, built once: ~550 MB backbone, ~340 MB predictors.

    The values are PyTorch's default initialisation (seeded): random, but of a scale that the
    network can run on, so the end-to-end test can use the same files.
    """
    root = tmp_path_factory.mktemp("published")
    torch.manual_seed(0)
    net = build_network("pvgg16", 1000)
    backbone = root / "vgg16.pth"
    torch.save(net.backbone.state_dict(), backbone)
    backbone_sha = sha256_file(backbone)
    # Served under torchvision's naming convention so the hash prefix comes from the name.
    hashed_backbone = root / f"vgg16-{backbone_sha[:8]}.pth"
    os.link(backbone, hashed_backbone)

    pmodules = []
    for name, pmodule in zip(PMODULE_NAMES, net.pmodules):
        path = root / name
        torch.save(pmodule.state_dict(), path)
        pmodules.append(path)

    wrong = root / "wrong" / PMODULE_NAMES[4]
    wrong.parent.mkdir()
    torch.save({"0.weight": torch.zeros(512, 512, 3, 3), "0.bias": torch.zeros(512)}, wrong)
    marker = root / "code_ran.marker"
    evil = root / "evil" / PMODULE_NAMES[4]
    evil.parent.mkdir()
    torch.save({"0.weight": CodeOnLoad(marker), "0.bias": torch.zeros(512)}, evil)

    inner = {f"weights/{p.name}": p for p in pmodules}
    first_four = dict(list(inner.items())[:4])
    yield {
        "backbone": backbone,
        "hashed_backbone": hashed_backbone,
        "backbone_sha": backbone_sha,
        "pmodules": pmodules,
        "pmodule_shas": [sha256_file(p) for p in pmodules],
        "zip": _zip(root / "good.zip", inner),
        "wrong_zip": _zip(root / "wrong.zip", {**first_four, f"weights/{wrong.name}": wrong}),
        "evil_zip": _zip(root / "evil.zip", {**first_four, f"weights/{evil.name}": evil}),
        "missing_zip": _zip(root / "missing.zip", dict(list(inner.items())[:3])),
        "evil_file": evil,
        "marker": marker,
    }
    shutil.rmtree(root)  # ~2 GB; pytest would keep it around for its last three sessions


def pcoder_checkpoint(pmodule: torch.nn.Module, epoch: int) -> dict:
    """One PCoder's training checkpoint as Predify's training script saves it."""
    weights = {f"pmodule.{key}": value for key, value in pmodule.state_dict().items()}
    optimizer = {"state": {0: {"step": torch.tensor(12.0), "square_avg": torch.zeros(3)}}, "param_groups": [{"lr": 0.001, "params": [0]}]}
    return {"pcoderweights": weights, "optimizer": optimizer, "epoch": epoch}


@pytest.fixture(scope="session")
def pefficientnet_weights(tmp_path_factory: pytest.TempPathFactory):
    """PEfficientNet-B0 files in the published formats: timm's backbone state dict under its
    torch.hub name, and a zip of Predify's PCoder training checkpoints (`pcoderweights`, keys
    `pmodule.*`), whose member names Predify never documented: here its training script's
    `pnet_pretrained_pc{n}_{epoch:03d}.pth`. Also an archive with two epochs of PCoder 3, and one
    whose PCoder 5 checkpoint lacks `pcoderweights`. ~25 MB in all."""
    root = tmp_path_factory.mktemp("published_peff")
    torch.manual_seed(0)
    net = build_network("pefficientnet_b0", 1000)
    backbone = root / "efficientnet_b0.pth"
    torch.save(net.backbone.state_dict(), backbone)
    hashed_backbone = root / f"efficientnet_b0_ra-{sha256_file(backbone)[:8]}.pth"
    os.link(backbone, hashed_backbone)
    checkpoints = {}
    for n, pmodule in enumerate(net.pmodules, start=1):
        path = root / f"pnet_pretrained_pc{n}_049.pth"
        torch.save(pcoder_checkpoint(pmodule, 49), path)
        checkpoints[f"pefficientnet_b0/{path.name}"] = path
    earlier = root / "pnet_pretrained_pc3_048.pth"
    torch.save(pcoder_checkpoint(net.pmodules[2], 48), earlier)
    bare = root / "bare" / "pnet_pretrained_pc5_049.pth"
    bare.parent.mkdir()
    torch.save(net.pmodules[4].state_dict(), bare)
    yield {
        "net": net,
        "hashed_backbone": hashed_backbone,
        "zip": _zip(root / "weights_pefficientNetB0_imagenet.zip", checkpoints),
        "two_epochs_zip": _zip(root / "two_epochs.zip", {**checkpoints, f"pefficientnet_b0/{earlier.name}": earlier}),
        "bare_zip": _zip(root / "bare.zip", {**checkpoints, f"pefficientnet_b0/{bare.name}": bare}),
    }
    shutil.rmtree(root)


@pytest.fixture(scope="session")
def tiny_workflow(tmp_path_factory: pytest.TempPathFactory):
    """A private copy of the workflow, run once to completion on the tiny configuration, shared by
    every test file that reads its outputs or dry-runs against them (none may change them; the
    SLURM test compares its own run with every file under `results/tiny`)."""
    from tests.workflow_helpers import copy_workflow, shared_tiny_config, snakemake, write_config

    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    configfile = write_config(workdir, shared_tiny_config())
    snakemake(workdir, configfile)
    return workdir, configfile
