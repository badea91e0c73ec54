"""A killed extraction or sweep chunk resumes from its finished batches, and its file equals an
uninterrupted run's; a second writer of the same output (two runs of one job at once) stops before it
touches the first's batches or file."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.spec.metrics import iou_scores
from pcgc.stages.extract import extract
from pcgc.stages.sweep_chunk import run_chunk
from pcgc.storage.network_inputs import NetworkInputs
from pcgc.storage.resume import (
    BatchStore,
    OutputBusy,
    batch_name,
    exclusive_writer,
    lock_path,
)
from tests.conftest import random_mini
from tests.processes import sigkill_when
from tests.stage_fixtures import stage_network, write_stage_inputs

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
IMAGES, BATCH, TIMESTEPS = 16, 2, 6
# Several methods and a lower layer: every map of a batch is kept and restored.
CAMS = {"methods": ["gradcam", "eigencam", "layercam"], "layers": ["top", "pcoder3"]}
REPO = Path(__file__).resolve().parents[1]

RUN = """
import sys
from pathlib import Path
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages.extract import extract
from pcgc.storage.network_inputs import NetworkInputs
selection, inputs, backbone, out, *pmodules = sys.argv[1:]
network = NetworkInputs(Path(selection), Path(inputs), Path(backbone), tuple(Path(p) for p in pmodules),
                        spec="mini", gradient_scaling=False, precision="fp32", device="cpu")
hps = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
extract(network, hps_name="hps_0", hps=hps, timesteps={timesteps}, batch_size={batch}, out_h5=Path(out), cams={cams})
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_stage_inputs(tmp_path_factory.mktemp("resume"), random_mini(5, 4), count=IMAGES)


def run(files, out: Path, timesteps: int = TIMESTEPS, cams: dict = CAMS) -> None:
    extract(stage_network(files), hps_name="hps_0", hps=HPS, timesteps=timesteps, batch_size=BATCH, out_h5=out, cams=cams)


def contents(path: Path, cams: dict | None = CAMS) -> dict:
    """Every dataset and attribute of an output; `cams`: the CAM datasets an extraction file must
    hold (None for a sweep chunk)."""
    with h5py.File(path) as h5:
        arrays = {}
        h5.visititems(lambda name, node: arrays.__setitem__(name, node[:]) if isinstance(node, h5py.Dataset) else None)
        assert cams is None or sorted(name for name in arrays if name.startswith("cams/")) == sorted(
            f"cams/{m}/{layer}" for m in cams["methods"] for layer in ("pcoder5", "pcoder3")
        )
        attrs = {k: json.loads(v) for k, v in h5.attrs.items()}
    attrs.pop("versions")
    return {"arrays": arrays, "attrs": attrs}


def assert_same(a: dict, b: dict) -> None:
    assert a["attrs"] == b["attrs"]
    assert sorted(a["arrays"]) == sorted(b["arrays"])
    for name in a["arrays"]:
        np.testing.assert_array_equal(a["arrays"][name], b["arrays"][name], err_msg=name)


def killed_run(files, out: Path, after_batches: int, code: str | None = None) -> None:
    """Start the job (`code`, the extraction by default) in its own process and SIGKILL it once
    `after_batches` are finished."""
    arguments = [str(files["selection"]), str(files["inputs"]), str(files["backbone"]), str(out)]
    arguments += [str(p) for p in files["pmodules"]]
    code = code or RUN.format(timesteps=TIMESTEPS, batch=BATCH, cams=repr(CAMS))
    process = subprocess.Popen([sys.executable, "-c", code, *arguments], cwd=REPO, stderr=subprocess.DEVNULL)
    batches = out.with_name(out.name + ".batches")
    sigkill_when(process, lambda: len(list(batches.glob("*.npz"))) >= after_batches, what="the job")


@pytest.mark.slow
def test_a_killed_extraction_resumes_and_equals_an_uninterrupted_run(files, tmp_path, caplog):
    reference = tmp_path / "reference.h5"
    run(files, reference)
    assert not reference.with_name("reference.h5.batches").exists()
    expected = contents(reference)
    rng = random.Random(0)
    for attempt in range(2):
        out = tmp_path / f"killed{attempt}.h5"
        kill_after = rng.randint(1, IMAGES // BATCH - 2)
        killed_run(files, out, kill_after)
        # Nothing that looks finished: the output's name does not exist.
        assert not out.exists()
        finished = sorted(p.name for p in out.with_name(out.name + ".batches").glob("*.npz"))
        assert len(finished) >= kill_after
        with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
            caplog.clear()
            run(files, out)
        reused = [r.getMessage() for r in caplog.records if "resumed" in r.getMessage()]
        assert reused and reused[0].startswith(f"resumed: {len(finished)} batch(es)"), reused
        recomputed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("computed")]
        assert recomputed == [f"computed: {IMAGES // BATCH - len(finished)} batch(es): " + ", ".join(
            f"images{a:08d}-{a + BATCH:08d}" for a in range(0, IMAGES, BATCH) if f"images{a:08d}-{a + BATCH:08d}.npz" not in finished
        )]
        assert_same(contents(out), expected)
        assert not out.with_name(out.name + ".batches").exists()


@pytest.mark.parametrize(
    "other", [{"timesteps": TIMESTEPS - 1}, {"cams": {"methods": ["gradcam", "eigencam", "hirescam"], "layers": ["top", "pcoder3"]}}]
)
@pytest.mark.slow
def test_batches_of_other_settings_are_discarded_not_reused(files, tmp_path, caplog, other):
    out = tmp_path / "out.h5"
    killed_run(files, out, 2)
    with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
        run(files, out, **other)  # another job now writes this output
    assert any("discarded" in r.getMessage() for r in caplog.records)
    assert not any("resumed" in r.getMessage() for r in caplog.records)
    fresh = tmp_path / "fresh.h5"
    run(files, fresh, **other)
    cams = other.get("cams", CAMS)
    assert_same(contents(out, cams), contents(fresh, cams))


# Sweep chunks: 3 configurations, each its own work group (a frozen network; feedback and error
# gradients at PCoders 1-2; the gradient at PCoder 1 only),
# batch size 4: per image batch of 4 images one device batch per configuration, 4 image batches.
CONFIGURATIONS = [
    HyperParameters((1.0,) * 5, (0.0,) * 5, (0.0,) * 5),
    HyperParameters((0.3, 0.4, 1.0, 1.0, 1.0), (0.5, 0.3, 0.0, 0.0, 0.0), (0.01, 0.01, 0.0, 0.0, 0.0)),
    HyperParameters((0.5, 0.6, 1.0, 1.0, 1.0), (0.2, 0.2, 0.0, 0.0, 0.0), (0.02, 0.0, 0.0, 0.0, 0.0)),
]
CHUNK_BATCH, CHUNK_TIMESTEPS = 4, 3
STORE_MAPS = ["img_001", "img_006", "img_013"]

RUN_CHUNK = """
import sys
from pathlib import Path
from pcgc.storage.network_inputs import NetworkInputs
from pcgc.stages.sweep_chunk import run_chunk
from tests.test_resume import CONFIGURATIONS, chunk_settings
selection, inputs, backbone, out, *pmodules = sys.argv[1:]
network = NetworkInputs(Path(selection), Path(inputs), Path(backbone), tuple(Path(p) for p in pmodules),
                        spec="mini", gradient_scaling=False, precision="fp32", device="cpu")
run_chunk(network, **chunk_settings(Path(out)))
"""


def chunk_settings(out: Path) -> dict:
    return dict(
        configurations=CONFIGURATIONS, n_images="all", image_seed=0, timesteps=CHUNK_TIMESTEPS, scores=iou_scores([0.3, 0.5]),
        store_maps=STORE_MAPS, batch_size=CHUNK_BATCH, out_h5=out, out_manifest=out.with_suffix(".json"),
    )


def chunk_batches() -> list[str]:
    return [batch_name(a, a + CHUNK_BATCH, b) for a in range(0, IMAGES, CHUNK_BATCH) for b in range(len(CONFIGURATIONS))]


@pytest.mark.slow
def test_a_killed_sweep_chunk_resumes_and_equals_an_uninterrupted_run(files, tmp_path, caplog):
    reference = tmp_path / "reference.h5"
    run_chunk(stage_network(files), **chunk_settings(reference))
    assert not reference.with_name("reference.h5.batches").exists()
    expected = contents(reference, cams=None)
    assert expected["arrays"]["cam_raw"].shape[:2] == (len(CONFIGURATIONS), len(STORE_MAPS))
    out = tmp_path / "killed.h5"
    kill_after = random.Random(1).randint(1, len(chunk_batches()) - 2)
    killed_run(files, out, kill_after, code=RUN_CHUNK)
    assert not out.exists() and not out.with_suffix(".json").exists()
    finished = sorted(p.stem for p in out.with_name(out.name + ".batches").glob("*.npz"))
    assert len(finished) >= kill_after and set(finished) < set(chunk_batches())
    with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
        run_chunk(stage_network(files), **chunk_settings(out))
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"resumed: {len(finished)} batch(es)") and m.endswith(", ".join(finished)) for m in messages), messages
    recomputed = [b for b in chunk_batches() if b not in finished]
    assert f"computed: {len(recomputed)} batch(es): {', '.join(recomputed)}" in messages
    assert_same(contents(out, cams=None), expected)
    assert json.loads(out.with_suffix(".json").read_text()) == json.loads(reference.with_suffix(".json").read_text())
    assert not out.with_name(out.name + ".batches").exists()


@pytest.mark.slow
def test_a_sweep_chunk_with_other_maps_kept_does_not_reuse_batches(files, tmp_path, caplog, monkeypatch):
    out = tmp_path / "out.h5"
    with monkeypatch.context() as patch:  # a run whose batches stay, as a killed run's would
        patch.setattr(BatchStore, "remove", lambda self: None)
        run_chunk(stage_network(files), **chunk_settings(out))
    assert len(list(out.with_name(out.name + ".batches").glob("*.npz"))) == len(chunk_batches())
    with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
        run_chunk(stage_network(files), **dict(chunk_settings(out), store_maps="all"))
    assert any("discarded" in r.getMessage() for r in caplog.records)
    assert not any("resumed" in r.getMessage() for r in caplog.records)
    with h5py.File(out) as h5:
        assert h5["cam_raw"].shape[1] == IMAGES


def test_a_store_whose_key_cannot_be_read_is_discarded(tmp_path, caplog):
    out = tmp_path / "out.h5"
    store = BatchStore(out, {"setting": 1})
    store.save(batch_name(0, 2), {"x": np.arange(2)})
    (store.folder / "key.json").write_text("{not json")
    with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
        again = BatchStore(out, {"setting": 1})
    assert any("discarded" in r.getMessage() for r in caplog.records)
    assert again.load(batch_name(0, 2)) is None
    assert BatchStore(out, {"setting": 1}).load(batch_name(0, 2)) is None



# Two writers of one output: Snakemake's lock prevents them, unless a user forces a second run past
# it (`--unlock`) while a job of the first still runs. The second stops before it touches anything.
HOLD = """
import sys
from pathlib import Path
from pcgc.storage.resume import exclusive_writer
with exclusive_writer(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


def holder(out: Path) -> subprocess.Popen:
    """Another process that holds the writer lock of `out` until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline() == "held\n"
    return process


def busy_message(out: Path, pid: int) -> str:
    return rf"^{out}: another job writes this output now \(pid {pid} on .* since .*; it holds the lock {out}\.lock\)"


def test_a_second_writer_of_an_output_stops_naming_the_lock_and_its_holder(tmp_path):
    out = tmp_path / "out.h5"
    first = holder(out)
    try:
        with pytest.raises(OutputBusy, match=busy_message(out, first.pid)), exclusive_writer(out):
            pytest.fail("two writers of one output")
    finally:
        first.stdin.close()
        first.wait()
    assert not lock_path(out).exists()  # released and removed
    with exclusive_writer(out):
        assert lock_path(out).read_text().startswith(f"pid {os.getpid()} on ")
    # A writer killed with SIGKILL leaves its lock file, but not its lock.
    killed = holder(out)
    killed.kill()
    killed.wait()
    assert lock_path(out).exists()
    with exclusive_writer(out):
        pass
    assert not lock_path(out).exists()


@pytest.mark.parametrize("stage", ["extract", "sweep_chunk"])
def test_both_resumable_stages_write_only_as_the_sole_writer(files, tmp_path, stage):
    out = tmp_path / "out.h5"
    batches = out.with_name("out.h5.batches")
    batches.mkdir()
    (batches / "images00000000-00000002.npz").write_bytes(b"the other writer's batch")
    first = holder(out)
    try:
        with pytest.raises(OutputBusy, match=busy_message(out, first.pid)):
            if stage == "extract":
                run(files, out)
            else:
                run_chunk(stage_network(files), **chunk_settings(out))
    finally:
        first.stdin.close()
        first.wait()
    assert [p.name for p in batches.iterdir()] == ["images00000000-00000002.npz"]
    assert (batches / "images00000000-00000002.npz").read_bytes() == b"the other writer's batch"
    assert not out.exists() and not out.with_name("out.h5.partial").exists()


@pytest.mark.slow
def test_an_extraction_forced_beside_a_running_one_leaves_it_intact(files, tmp_path):
    # The first writer is a real extraction, paused (SIGSTOP) once it has stored a batch; a second
    # extraction of the same output is tried meanwhile, then the first goes on.
    reference = tmp_path / "reference.h5"
    run(files, reference, timesteps=1)
    out = tmp_path / "out.h5"
    arguments = [str(files["selection"]), str(files["inputs"]), str(files["backbone"]), str(out)]
    arguments += [str(p) for p in files["pmodules"]]
    code = RUN.format(timesteps=1, batch=BATCH, cams=repr(CAMS))
    first = subprocess.Popen([sys.executable, "-c", code, *arguments], cwd=REPO, stderr=subprocess.DEVNULL)
    batches = out.with_name(out.name + ".batches")
    try:
        deadline = time.monotonic() + 300
        while not any(batches.glob("*.npz")):
            assert first.poll() is None, "the extraction ended before it could be paused"
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.kill(first.pid, signal.SIGSTOP)
        stored = {p.name: p.read_bytes() for p in batches.iterdir()}
        partial = out.with_name(out.name + ".partial")
        assert partial.exists()
        partial_state = partial.stat()
        with pytest.raises(OutputBusy, match=busy_message(out, first.pid)):
            run(files, out, timesteps=1)
        assert {p.name: p.read_bytes() for p in batches.iterdir()} == stored
        assert partial.stat().st_ino == partial_state.st_ino and partial.stat().st_size == partial_state.st_size
    finally:
        os.kill(first.pid, signal.SIGCONT)
        first.wait(timeout=300)
    assert first.returncode == 0
    assert_same(contents(out), contents(reference))
    assert not batches.exists() and not lock_path(out).exists()

# PVGG16 itself (random weights, 224 x 224): a killed extraction of the real network's size resumes
# from its batches rather than restarting. One image per batch, three images, t = 0..1.
RUN_PVGG16 = """
import sys
from pathlib import Path
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages.extract import extract
from pcgc.storage.network_inputs import NetworkInputs
selection, inputs, backbone, out, *pmodules = sys.argv[1:]
network = NetworkInputs(Path(selection), Path(inputs), Path(backbone), tuple(Path(p) for p in pmodules),
                        spec="pvgg16", gradient_scaling=False, precision="fp32", device="cpu")
hps = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)
extract(network, hps_name="hps_0", hps=hps, timesteps=1, batch_size=1, out_h5=Path(out))
"""


@pytest.mark.slow
def test_a_killed_pvgg16_extraction_resumes_rather_than_restarts(tmp_path, caplog):
    from pcgc.compute.networks import build_network

    torch.manual_seed(0)
    files = write_stage_inputs(tmp_path / "inputs", build_network("pvgg16", 1000), count=3)
    pvgg16 = NetworkInputs(
        files["selection"], files["inputs"], files["backbone"], tuple(files["pmodules"]),
        spec="pvgg16", gradient_scaling=False, precision="fp32", device="cpu",
    )
    reference = tmp_path / "reference.h5"
    extract(pvgg16, hps_name="hps_0", hps=HPS, timesteps=1, batch_size=1, out_h5=reference)
    out = tmp_path / "killed.h5"
    killed_run(files, out, 1, code=RUN_PVGG16)
    assert not out.exists()
    finished = sorted(p.stem for p in out.with_name(out.name + ".batches").glob("*.npz"))
    assert 1 <= len(finished) < 3
    with caplog.at_level(logging.INFO, logger="pcgc.storage.resume"):
        extract(pvgg16, hps_name="hps_0", hps=HPS, timesteps=1, batch_size=1, out_h5=out)
    messages = [r.getMessage() for r in caplog.records]
    every = [batch_name(i, i + 1) for i in range(3)]
    assert f"resumed: {len(finished)} batch(es) came from {out}.batches: {', '.join(finished)}" in messages, messages
    assert f"computed: {3 - len(finished)} batch(es): {', '.join(b for b in every if b not in finished)}" in messages
    with h5py.File(out) as h5:
        assert h5["cams/gradcam/pcoder5"].shape == (3, 2, 14, 14)
    assert_same(contents(out, None), contents(reference, None))
