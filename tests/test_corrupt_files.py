"""A damaged checkpoint or intermediate stops the job with a message that names the file."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch

from pcgc.spec.metrics import iou_scores
from pcgc.stages.score import score_extraction
from pcgc.stages.sweep_merge import merge_sweep
from pcgc.storage.checkpoints import CheckpointError, read_state_dict


def truncated(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def saved(path, legacy=False):
    torch.save({"weight": torch.arange(4096.0)}, path, _use_new_zipfile_serialization=not legacy)
    return path


class RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)),
        lambda p: truncated(saved(p)),
        lambda p: truncated(saved(p, legacy=True)),
        lambda p: p.write_bytes(b"<html>not found</html>"),
    ],
    ids=["random bytes", "truncated zip format", "truncated legacy format", "an HTML page"],
)
def test_a_damaged_checkpoint_is_named_and_called_what_it_is(tmp_path, make):
    path = tmp_path / "pc3_pmodule.pth"
    make(path)
    with pytest.raises(CheckpointError) as error:
        read_state_dict(path)
    message = str(error.value)
    assert message.startswith(f"{path}: not a valid or complete PyTorch checkpoint"), message
    assert "weights_only=False" not in message and "refused" not in message


def test_both_checkpoint_formats_load(tmp_path):
    for legacy in (False, True):
        state = read_state_dict(saved(tmp_path / f"legacy{legacy}.pth", legacy=legacy))
        assert torch.equal(state["weight"], torch.arange(4096.0))


def test_a_checkpoint_that_would_run_code_is_refused_without_torchs_advice(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weight": RunsCode()}, path)
    with pytest.raises(CheckpointError, match=rf"{path}: refused to load: it needs more than tensors") as error:
        read_state_dict(path)
    assert "weights_only=False" not in str(error.value)


def _h5(path):
    with h5py.File(path, "w") as h5:
        h5.create_dataset("cams/gradcam/pcoder5", data=np.random.default_rng(0).random((64, 3, 6, 6)))
    return path


def test_a_truncated_extraction_file_is_named_by_the_next_job(tmp_path):
    extraction = truncated(_h5(tmp_path / "sigma0.h5"))
    with pytest.raises(OSError, match=rf"{extraction}: not a valid or complete HDF5 file"):
        score_extraction(
            extraction, _h5(tmp_path / "selection.h5"), iou_scores([0.5]), tmp_path / "scores.parquet",
            hyperparameter_set="hps_0", perturbation={"sigma": 0.0},
        )
    assert not (tmp_path / "scores.parquet").exists()


def test_a_truncated_sweep_chunk_is_named_by_the_merge(tmp_path):
    chunk = truncated(_h5(tmp_path / "0123456789abcdef.h5"))
    with pytest.raises(OSError, match=rf"{chunk}: not a valid or complete HDF5 file"):
        merge_sweep([chunk], [], sweep="fig3", kind="single_pcoder", perturbation={"sigma": 0.0}, out_table=tmp_path / "scores.parquet")
    assert not (tmp_path / "scores.parquet").exists()
