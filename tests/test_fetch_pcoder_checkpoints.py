"""Fetching PEfficientNet-B0's weights: timm's backbone file and Predify's archive of PCoder training
checkpoints, whose member names were never published (pcgc.storage.fetch,
`predify_pcoder_checkpoint_zip`), from a local server."""

from __future__ import annotations

import json
import logging
import zipfile

import pytest
import torch

from pcgc.cli import main as cli
from pcgc.spec.networks import NETWORKS
from pcgc.storage.checkpoints import CheckpointError, read_pcoder_checkpoint, read_state_dict
from pcgc.storage.fetch import FetchError, Source, fetch_weights, find_pcoder_members
from pcgc.storage.network_inputs import load_dynamics
from tests.http_fixture import FileServer, Route

RECORD = NETWORKS["pefficientnet_b0"]
FAST = {"progress": False, "retries": 0}


@pytest.fixture
def server():
    with FileServer() as s:
        yield s


def serve(server: FileServer, weights: dict, archive: str = "zip") -> tuple[Source, Source]:
    backbone = server.add(f"/{weights['hashed_backbone'].name}", Route(file=weights["hashed_backbone"]))
    return Source(url=backbone), Source(url=server.add(f"/{RECORD.weights.feedback_archive.file}", Route(file=weights[archive])))


def test_the_predictors_are_found_by_their_pcoder_numbers_and_load_into_the_network(server, pefficientnet_weights, tmp_path, caplog):
    backbone, archive = serve(server, pefficientnet_weights)
    out = tmp_path / "weights"
    with caplog.at_level(logging.INFO, logger="pcgc.storage.fetch"):
        manifest = fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, **FAST)
    members = [f"pefficientnet_b0/pnet_pretrained_pc{n}_049.pth" for n in range(1, 9)]
    assert [entry["source"]["member"] for entry in manifest["pmodules"]] == members
    # The user is told which member went to which PCoder.
    for n, member in enumerate(members, start=1):
        assert f"PCoder {n}'s predictor from member {member.split('/')[1]}" in caplog.text
    # Only pcgc's own files are left: the backbone, one plain predictor state dict per PCoder, the manifest.
    assert sorted(p.name for p in out.iterdir()) == sorted([RECORD.backbone_file(), *RECORD.pmodule_files(), "manifest.json"])
    original = pefficientnet_weights["net"]
    for pmodule, name in zip(original.pmodules, RECORD.pmodule_files()):
        state = read_state_dict(out / name)
        assert state.keys() == pmodule.state_dict().keys()
        assert all(torch.equal(state[k], v) for k, v in pmodule.state_dict().items())
    dynamics = load_dynamics(
        "pefficientnet_b0", 1000, out / RECORD.backbone_file(), [out / name for name in RECORD.pmodule_files()],
        gradient_scaling=False, device=torch.device("cpu"),
    )
    for key, value in original.state_dict().items():
        assert torch.equal(dynamics.net.state_dict()[key], value), key
    # A second call is an offline recheck.
    requests = len(server.log)
    assert fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, **FAST) == manifest
    assert len(server.log) == requests


def test_several_checkpoints_of_one_pcoder_are_refused_until_the_user_names_them(server, pefficientnet_weights, tmp_path):
    backbone, archive = serve(server, pefficientnet_weights, "two_epochs_zip")
    out = tmp_path / "weights"
    with pytest.raises(FetchError, match=r"PCoder 3: several: pefficientnet_b0/pnet_pretrained_pc3_049\.pth, pefficientnet_b0/pnet_pretrained_pc3_048\.pth.*weights\.feedback_archive\.members"):
        fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, **FAST)
    assert not (out / "manifest.json").exists() and not any(p.suffix == ".pth" for p in out.iterdir())

    # One pattern for all eight, then one name per PCoder (epoch 48 for PCoder 3).
    manifest = fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, feedback_members="pnet_pretrained_pc{n}_049.pth", **FAST)
    assert manifest["sources"]["feedback_archive"]["members"] == [f"pnet_pretrained_pc{n}_049.pth" for n in range(1, 9)]
    names = [f"pnet_pretrained_pc{n}_{48 if n == 3 else 49:03d}.pth" for n in range(1, 9)]
    manifest = fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, feedback_members=names, **FAST)
    assert manifest["pmodules"][2]["source"]["member"] == "pefficientnet_b0/pnet_pretrained_pc3_048.pth"
    with pytest.raises(ValueError, match=r"8 different file names needed \(pefficientnet_b0 has 8 PCoders\)"):
        fetch_weights(out, "pefficientnet_b0", feedback_members=names[:7], **FAST)
    with pytest.raises(ValueError, match=r"needs \{n\}"):
        fetch_weights(out, "pefficientnet_b0", feedback_members="pnet.pth", **FAST)


def test_a_checkpoint_without_pcoderweights_is_named_with_its_member_and_key(server, pefficientnet_weights, tmp_path):
    backbone, archive = serve(server, pefficientnet_weights, "bare_zip")  # PCoder 5's is a plain state dict
    out = tmp_path / "w"
    with pytest.raises(FetchError, match=r"weights_pefficientNetB0_imagenet\.zip member pefficientnet_b0/pnet_pretrained_pc5_049\.pth: not a PCoder training checkpoint: no key 'pcoderweights' \(it holds \['1\.bias', '1\.weight'\]\)"):
        fetch_weights(out, "pefficientnet_b0", backbone=backbone, feedback_archive=archive, **FAST)
    assert sorted(p.name for p in out.iterdir()) == []  # nothing half-done is left


def test_reading_a_pcoder_checkpoint(tmp_path):
    path = tmp_path / "pc.pth"
    torch.save({"pcoderweights": {"pmodule.0.weight": torch.ones(2), "pmodule.0.bias": torch.zeros(1)}, "epoch": 3}, path)
    assert set(read_pcoder_checkpoint(path)) == {"0.weight", "0.bias"}
    torch.save({"pcoderweights": {"pmodule.0.weight": torch.ones(2), "rep": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match=r"pc\.pth\['pcoderweights'\]: keys without the 'pmodule\.' prefix of the predictor: \['rep'\]"):
        read_pcoder_checkpoint(path)
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match=r"pc\.pth: not a PCoder training checkpoint: no key 'pcoderweights' \(it holds \['state_dict'\]\)"):
        read_pcoder_checkpoint(path)


@pytest.mark.parametrize(
    ("names", "found"),
    [
        ([f"w/pnet_pretrained_pc{n}_049.pth" for n in (1, 2)], ["pnet_pretrained_pc1_049.pth", "pnet_pretrained_pc2_049.pth"]),
        (["PCoder_2.pt", "pcoder1.pth", "README.txt", "__MACOSX/._pcoder1.pth"], ["pcoder1.pth", "PCoder_2.pt"]),
        (["peffb0_pc-1.tar", "peffb0_pc-2.tar", "vgg16pc3.pth"], ["peffb0_pc-1.tar", "peffb0_pc-2.tar"]),
    ],
)
def test_pcoder_numbers_are_read_from_common_checkpoint_names(tmp_path, names, found):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in names:
            zf.writestr(name, b"x")
    assert find_pcoder_members(archive, 2) == found


def test_an_archive_without_numbered_checkpoints_lists_what_it_holds(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("weights/first.pth", b"x")
        zf.writestr("weights/pc1.pth", b"x")
    with pytest.raises(FetchError, match=r"PCoder 2: no checkpoint.*holds: weights/first\.pth, weights/pc1\.pth"):
        find_pcoder_members(archive, 2)


def test_the_cli_takes_member_names(server, pefficientnet_weights, tmp_path, capsys):
    backbone, archive = serve(server, pefficientnet_weights, "two_epochs_zip")
    args = ["fetch-weights", str(tmp_path / "w"), "--network", "pefficientnet_b0", "--backbone", backbone.url, "--feedback-archive", archive.url]
    assert cli(args) == 1
    assert "PCoder 3: several" in capsys.readouterr().err
    assert cli([*args, "--feedback-members", "pnet_pretrained_pc{n}_049.pth"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["pmodules"][2]["source"]["member"] == "pefficientnet_b0/pnet_pretrained_pc3_049.pth"
