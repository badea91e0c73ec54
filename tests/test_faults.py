"""Faults and bad inputs, stage by stage: each stops the job with a message that names the file, key
or value at fault, and leaves nothing under an output's name that Snakemake or a user could take
for a finished file.

Covered elsewhere, not repeated here:
* config values: tests/test_config.py (ranges, integers, cross-key checks, unknown nested keys,
  missing keys), tests/test_overrides.py (`--config` typing); below only the kinds of wrong type
  and the unknown keys those do not try;
* the ImageNet-S reader file by file: tests/test_imagenet_s.py; below the same faults stop the
  selection stage, before it writes anything;
* damaged checkpoints read alone (random bytes, truncation, pickles that run code):
  tests/test_corrupt_files.py; below they stop a network stage;
* SIGKILL of `extract` and `sweep_chunk` (the stages that run for hours) at random points, and
  resuming: tests/test_resume.py; of Snakemake during extraction: tests/test_killed_workflow.py.

Full and read-only output folders are real file systems where the tests can mount them (a tiny or
read-only tmpfs, as root); otherwise a read-only folder is a folder without write permission and
the full-disk case is skipped (nothing short of a real file system shows what HDF5 does then).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from pcgc.data.demo_world import DemoWorldConfig, generate_demo_world
from pcgc.data.geometry import Geometry
from pcgc.data.imagenet_s import ImageNetS, ImageNetSError, read_class_list
from pcgc.data.masks import encode_mask
from pcgc.spec.config import ConfigError, validate_config
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import iou_scores
from pcgc.stages.extract import extract
from pcgc.stages.select_images import select_images
from pcgc.stages.sweep_chunk import run_chunk
from pcgc.stages.train_demo import TrainingConfig
from pcgc.storage.checkpoints import CheckpointError, read_state_dict
from tests.conftest import random_mini
from tests.imagenet_s_fixture import build_imagenet_s_tree
from tests.processes import sigkill_when
from tests.stage_fixtures import stage_network, write_stage_inputs
from tests.workflow_helpers import default_config

REPO = Path(__file__).resolve().parents[1]
HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
IMAGES = 8


def leftovers(folder: Path) -> list[str]:
    """Every file in `folder` (recursively), as names relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------
# Config values: the kinds of wrong value tests/test_config.py does not try


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c["dynamics"].__setitem__("timesteps", "ten"), r"dynamics\.timesteps: 'ten' is not of type 'integer'"),
        (lambda c: c["noise"].__setitem__("sigmas", 0.1), r"noise\.sigmas: 0\.1 is not of type 'array'"),
        (lambda c: c["hyperparameters"].__setitem__("hps_0", [0.2, 0.4]), r"hyperparameters\.hps_0: \[0\.2, 0\.4\] is not of type 'object'"),
        (lambda c: c["scores"].__setitem__("thresholds", None), r"scores\.thresholds: None is not of type 'array'"),
        (lambda c: c["hyperparameters"]["hps_0"].__setitem__("gamma", [0.1] * 5), r"hyperparameters\.hps_0\.gamma: unknown key"),
        (lambda c: c.__setitem__("extractoin", {"batch_size": 8}), r"extractoin: unknown key"),
        (lambda c: c["model"].__setitem__("precision", "fp16"), r"model\.precision: 'fp16' is not one of"),
        (lambda c: c["scores"]["thresholds"].__setitem__(0, 1.5), r"scores\.thresholds\[0\]: 1\.5 is greater than the maximum of 1"),
    ],
    ids=["string for integer", "number for list", "list for mapping", "null", "unknown set key", "unknown top-level key", "unknown choice", "out of range"],
)
def test_config_faults_name_their_key(edit, message):
    config = copy.deepcopy(default_config())
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


# --------------------------------------------------------------------------------------------------
# Dataset faults stop the selection stage, which then writes nothing

CLASSES = ["n01443537", "n01491361", "n01531178", "n01644373"]


def _unknown_folder(tree):
    stray = tree["root"] / "validation" / "n01440764"  # a class folder the class list does not name
    shutil.copytree(tree["root"] / "validation" / CLASSES[0], stray)
    return stray


def _missing_mask(tree):
    mask = tree["samples"][3]["mask_path"]
    mask.unlink()
    return mask


def _wrong_size_mask(tree):
    mask = tree["samples"][2]["mask_path"]
    Image.fromarray(encode_mask(np.zeros((36, 50), np.int32))).save(mask)
    return mask


def _unreadable_image(tree):
    image = tree["samples"][5]["image_path"]
    image.write_bytes(image.read_bytes()[:100])
    return image


def _unreadable_mask(tree):
    mask = tree["samples"][6]["mask_path"]
    mask.write_bytes(b"\x89PNG not really")
    return mask


@pytest.mark.parametrize(
    "damage, message",
    [
        (_missing_mask, "has no mask: {path} is missing"),
        (_wrong_size_mask, "mask {path} is 50x36"),
        (_unreadable_image, "cannot read image {path}"),
        (_unreadable_mask, "cannot read mask {path}"),
        (_unknown_folder, "folder {path} is not a class of class list"),
    ],
    ids=["missing mask", "mask of the wrong size", "unreadable image", "unreadable mask", "class missing from the class list"],
)
def test_dataset_faults_stop_the_selection_and_name_the_file(tmp_path, damage, message):
    tree = build_imagenet_s_tree(tmp_path / "imagenet_s", CLASSES, images_per_class=2)
    path = damage(tree)
    out = tmp_path / "out"
    dataset = ImageNetS(
        tree["root"], tree["categories_file"], subset=tree["subset"], classifier_wnids=read_class_list(tree["categories_file"])
    )
    with pytest.raises((ImageNetSError, FileNotFoundError)) as error:
        select_images(
            dataset, n_images=IMAGES, seed=0, geometry=Geometry(resize=32, crop=32), cam_target="imagenet_s",
            out_h5=out / "selection.h5", out_table=out / "selection.csv", description={},
        )
    assert message.format(path=path) in str(error.value)
    assert not out.exists() or leftovers(out) == []


# --------------------------------------------------------------------------------------------------
# Weights and intermediates stop the network stages (extract, sweep_chunk) before any output


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_stage_inputs(tmp_path_factory.mktemp("faults"), random_mini(3, 4), count=IMAGES)


def damaged_copy(files, tmp_path: Path, role: str, damage: Callable[[Path], None]) -> tuple[dict, Path]:
    """The stage inputs with the file of `role` (selection, inputs, backbone, pmodule3) replaced by
    a damaged copy in `tmp_path`, and that copy's path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = dict(files, pmodules=list(files["pmodules"]))
    if role.startswith("pmodule"):
        index = int(role[len("pmodule"):]) - 1
        source = files["pmodules"][index]
        files["pmodules"][index] = target = tmp_path / source.name
    else:
        source = files[role]
        files[role] = target = tmp_path / source.name
    shutil.copy(source, target)
    damage(target)
    return files, target


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def drop_dataset(name: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with h5py.File(path, "r+") as h5:
            del h5[name]

    return damage


def other_image_ids(path: Path) -> None:
    with h5py.File(path, "r+") as h5:
        ids = h5["image_id"].asstr()[:]
        h5["image_id"][0] = ids[1]


def other_shape(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    name = next(iter(state))
    state[name] = torch.zeros(tuple(s + 1 for s in state[name].shape))
    torch.save(state, path)


def removed(path: Path) -> None:
    path.unlink()


def run_extract(files, out: Path) -> None:
    extract(stage_network(files), hps_name="hps_0", hps=HPS, timesteps=2, batch_size=4, out_h5=out / "extract.h5")


def run_sweep_chunk(files, out: Path) -> None:
    run_chunk(
        stage_network(files), configurations=[HPS], n_images="all", image_seed=0,
        timesteps=2, scores=iou_scores([0.5]), store_maps="none", batch_size=4, out_h5=out / "chunk.h5",
        out_manifest=out / "chunk.json",
    )


FAULTS = [
    # (file, damage, error, what the message says after the file's path)
    ("backbone", truncate, CheckpointError, ": not a valid or complete PyTorch checkpoint"),
    ("pmodule3", other_shape, CheckpointError, ": tensor shapes do not match"),
    ("pmodule3", removed, CheckpointError, ": checkpoint file not found"),
    ("inputs", truncate, OSError, ": not a valid or complete HDF5 file"),
    ("selection", truncate, OSError, ": not a valid or complete HDF5 file"),
    ("inputs", drop_dataset("inputs"), KeyError, ": dataset(s) ['inputs'] missing"),
    ("selection", drop_dataset("cam_target"), KeyError, ": dataset(s) ['cam_target'] missing"),
    ("inputs", other_image_ids, ValueError, ": its images are not those of"),
]
FAULT_IDS = [
    "truncated backbone", "predictor of another shape", "missing predictor", "truncated inputs", "truncated selection",
    "inputs without their dataset", "selection without cam targets", "inputs of other images",
]


@pytest.mark.parametrize("stage", [run_extract, run_sweep_chunk], ids=["extract", "sweep_chunk"])
@pytest.mark.parametrize("role, damage, error, message", FAULTS, ids=FAULT_IDS)
def test_bad_weights_and_intermediates_stop_network_stages_and_name_the_file(files, tmp_path, stage, role, damage, error, message):
    broken, culprit = damaged_copy(files, tmp_path / "damaged", role, damage)
    out = tmp_path / "out"
    with pytest.raises(error) as raised:
        stage(broken, out)
    assert f"{culprit}{message}" in str(raised.value)
    assert not out.exists() or leftovers(out) == [], "a failed stage left files behind"


# --------------------------------------------------------------------------------------------------
# Read-only and full output folders


def mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode == 0


@pytest.fixture
def read_only_folder(tmp_path):
    folder = tmp_path / "read_only"
    if mount_tmpfs(folder, "ro,size=64k"):
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    elif os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
    else:
        pytest.skip("root, and no tmpfs could be mounted: no folder is read-only for root")


@pytest.mark.parametrize("stage", [run_extract, run_sweep_chunk], ids=["extract", "sweep_chunk"])
def test_a_read_only_output_folder_is_named_before_any_work(files, read_only_folder, stage):
    out = read_only_folder / "results"
    started = time.perf_counter()
    with pytest.raises(OSError) as raised:
        stage(files, out)
    assert str(out) in str(raised.value) and ("Read-only" in str(raised.value) or "Permission denied" in str(raised.value))
    assert not out.exists()
    # It fails when it first writes: the extraction's output, the chunk's store of finished batches.
    assert time.perf_counter() - started < 30


FULL_DISK = """
import sys
from pathlib import Path
from tests.test_faults import files_from_argv, {stage}
{stage}(files_from_argv(sys.argv[1:]), Path(sys.argv[1]))
"""


def files_from_argv(arguments: list[str]) -> dict:
    _, selection, inputs, backbone, *pmodules = arguments
    return {"selection": Path(selection), "inputs": Path(inputs), "backbone": Path(backbone), "pmodules": [Path(p) for p in pmodules]}


# 16 KiB: room for the first finished batches, not for the extraction file or all of the chunk's batches.
@pytest.mark.slow
@pytest.mark.parametrize("stage", ["run_extract", "run_sweep_chunk"])
def test_a_full_output_folder_is_named_and_nothing_half_written_is_left(files, tmp_path, stage):
    """In a subprocess: HDF5 (1.14 in h5py 3) crashes the interpreter at exit after a write failed
    for lack of space, after the job has reported the error and removed its partial file."""
    folder = tmp_path / "full"
    if not mount_tmpfs(folder, "size=16k"):
        pytest.skip("no tmpfs could be mounted (needs root): a full disk is not simulated")
    try:
        out = folder / "results"
        arguments = [str(out), str(files["selection"]), str(files["inputs"]), str(files["backbone"])]
        arguments += [str(p) for p in files["pmodules"]]
        result = subprocess.run(
            [sys.executable, "-c", FULL_DISK.format(stage=stage), *arguments], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert result.returncode != 0
        assert "OutputWriteError" in result.stderr and f"{out}/" in result.stderr, result.stderr[-3000:]
        assert "cannot be written: No space left on device" in result.stderr
        # Batches finished before the disk filled may stay (for a resume); no output, whole or partial.
        assert not [name for name in leftovers(out) if ".batches/" not in name], leftovers(out)
    finally:
        subprocess.run(["umount", str(folder)], check=True)


# --------------------------------------------------------------------------------------------------
# SIGKILL while a network stage writes its outputs (extract and sweep_chunk between batches, and
# Snakemake with its jobs: tests/test_resume.py, tests/test_killed_workflow.py)

TRAINING_WORLD = DemoWorldConfig(seed=2, num_classes=2, train_per_class=4, val_per_class=1, image_height=96, image_width=96)
TRAINING = TrainingConfig(seed=0, epochs=1, batch_size=8, learning_rate=0.002, feedback_epochs=1, feedback_learning_rate=0.002)
TRAIN = """
import sys
from pathlib import Path
from pcgc.data.demo_world import demo_wnids
from pcgc.data.demo_world import DemoWorldConfig, generate_demo_world
from pcgc.data.geometry import Geometry
from pcgc.stages.train_demo import train_demo_network
from tests.test_faults import TRAINING, TRAINING_WORLD
world, out = Path(sys.argv[1]), Path(sys.argv[2])
train_demo_network(world, demo_wnids(TRAINING_WORLD.num_classes), Geometry(resize=96, crop=96), TRAINING,
                   out / "backbone.pth", [out / f"pc{n}.pth" for n in range(1, 6)])
"""


@pytest.mark.slow
def test_training_killed_while_writing_its_weights_leaves_only_complete_files(tmp_path):
    world, out = tmp_path / "world", tmp_path / "weights"
    generate_demo_world(world, TRAINING_WORLD)
    process = subprocess.Popen(
        [sys.executable, "-c", TRAIN, str(world), str(out)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # The first file to appear is the first checkpoint's temporary file: kill while it is written.
    sigkill_when(process, lambda: out.is_dir() and any(out.iterdir()), what="training")
    written = [p for p in out.iterdir() if not p.name.endswith(".partial")]
    assert {p.name for p in written} < {"backbone.pth", *(f"pc{n}.pth" for n in range(1, 6))}
    for path in written:  # whatever has its final name is whole
        read_state_dict(path)
