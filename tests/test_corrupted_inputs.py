"""The corrupted_inputs stage: the selection's images corrupted per family and severity, normalised,
written whole or not at all; and what the workflow plans for a configuration's corruptions."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from pcgc.compute.corruptions import CorruptionUnavailable, corrupt
from pcgc.spec.networks import IMAGENET_MEAN, IMAGENET_STD
from pcgc.stages.corrupted_inputs import write_corrupted_inputs
from pcgc.storage.h5io import STRING, read_json_attr, string_array, write_json_attrs
from tests.workflow_helpers import (
    copy_workflow,
    planned_jobs,
    snakemake,
    stub_jobs,
    tiny_config,
    without_sweeps,
    write_config,
)

COMMON = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}


@pytest.fixture
def selection(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 40, 48, 3), dtype=np.uint8)
    images[:, 10:30, 12:36] = rng.integers(0, 256, 3, dtype=np.uint8)  # a flat object, for the blurs
    path = tmp_path / "selection.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=images)
        h5.create_dataset("image_id", data=string_array([f"img_{i}" for i in range(5)]), dtype=STRING)
        write_json_attrs(h5, {"geometry": {"resize": 48, "crop": 40}})
    return path, images


def read(path):
    with h5py.File(path, "r") as h5:
        return h5["inputs"][:], list(h5["image_id"].asstr()[:]), read_json_attr(h5, "corruption", path)


@pytest.mark.parametrize("family", ["glass_blur", "saturate", "frost"])
def test_inputs_are_the_corrupted_pixels_normalised_whatever_the_chunking(selection, tmp_path, family):
    path, images = selection
    write_corrupted_inputs(path, tmp_path / "a.h5", family=family, severity=3, seed=4, frost_textures=None, chunk=2, **COMMON)
    write_corrupted_inputs(path, tmp_path / "b.h5", family=family, severity=3, seed=4, frost_textures=None, chunk=64, **COMMON)
    inputs, ids, attrs = read(tmp_path / "a.h5")
    assert np.array_equal(inputs, read(tmp_path / "b.h5")[0])
    pixels = torch.from_numpy(images.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    expected = corrupt(pixels, family, 3, seed=4, image_ids=ids).numpy()
    mean, std = (np.asarray(v, dtype=np.float32).reshape(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    assert inputs.dtype == np.float32 and np.array_equal(inputs, ((expected - mean) / std).astype(np.float32))
    assert attrs["family"] == family and attrs["severity"] == 3 and attrs["seed"] == 4


def test_bad_requests_stop_before_any_file(selection, tmp_path):
    path, _ = selection
    out = tmp_path / "x.h5"
    with pytest.raises(ValueError, match=r"severity 7 of 'fog'"):
        write_corrupted_inputs(path, out, family="fog", severity=7, seed=0, frost_textures=None, **COMMON)
    with pytest.raises(ValueError, match=r"fog draws random numbers and needs a seed"):
        write_corrupted_inputs(path, out, family="fog", severity=1, seed=None, frost_textures=None, **COMMON)
    with pytest.raises(CorruptionUnavailable, match=r"lacks frost1\.png"):
        write_corrupted_inputs(path, out, family="frost", severity=1, seed=0, frost_textures=str(tmp_path), **COMMON)
    assert not out.exists()
    write_corrupted_inputs(path, out, family="saturate", severity=1, seed=None, frost_textures=None, **COMMON)
    assert read(out)[2]["seed"] is None


REPLACE = "--replace-workflow-config"


@pytest.mark.slow
def test_a_changed_family_list_runs_only_the_new_branches(tmp_path):
    workdir = tmp_path / "wf"
    copy_workflow(workdir)
    stub_jobs(workdir)
    config = without_sweeps(tiny_config())
    # An existing configuration: no corruption. The inputs alone here (tiny_config has no
    # analysis; it is tested in test_corruption_workflow.py).
    assert config["corruptions"]["families"] is None and config["corruptions"]["analysis"] is None
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, REPLACE)
    # Turning corruptions on adds their branches and reruns nothing of the noise's.
    config["corruptions"]["families"] = {"fog": [1], "saturate": [2]}
    configfile = write_config(workdir, config)
    assert planned_jobs(workdir, configfile, REPLACE) == {"corrupted_inputs": 2, "all": 1}
    snakemake(workdir, configfile, REPLACE)
    assert planned_jobs(workdir, configfile, REPLACE) == {}
    config["corruptions"]["families"] = {"fog": [1, 4], "saturate": [2], "contrast": [5]}
    configfile = write_config(workdir, config)
    assert planned_jobs(workdir, configfile, REPLACE) == {"corrupted_inputs": 2, "all": 1}
    # The seed reruns the random families only; the noise branches never.
    config["corruptions"]["seed"] = 1
    configfile = write_config(workdir, config)
    snakemake(workdir, configfile, REPLACE)
    config["corruptions"]["seed"] = 2
    configfile = write_config(workdir, config)
    assert planned_jobs(workdir, configfile, REPLACE) == {"corrupted_inputs": 2, "all": 1}  # fog 1 and 4


@pytest.mark.slow
def test_the_rule_writes_what_the_stage_writes(tmp_path):
    # A real run of the job (no stubs): its file is the stage's on the same selection.
    from pcgc.spec.networks import NETWORKS

    workdir = tmp_path / "wf"
    copy_workflow(workdir)
    config = without_sweeps(tiny_config())
    config["corruptions"]["families"] = {"fog": [3]}
    configfile = write_config(workdir, config)
    target = f"{config['results']}/inputs/corruptions/fog/severity3.h5"
    snakemake(workdir, configfile, REPLACE, target)
    model = NETWORKS[config["model"]["spec"]]
    write_corrupted_inputs(
        workdir / config["results"] / "selection/selection.h5", tmp_path / "direct.h5", family="fog", severity=3,
        seed=config["corruptions"]["seed"], frost_textures=None, mean=model.mean, std=model.std,
    )
    ran, ids, attrs = read(workdir / target)
    direct, direct_ids, _ = read(tmp_path / "direct.h5")
    assert ids == direct_ids and np.array_equal(ran, direct)
    assert attrs == {**attrs, "family": "fog", "severity": 3, "seed": config["corruptions"]["seed"]}
