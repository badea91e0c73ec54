"""Execution settings that change only how the network runs (`extraction.compile`,
`extraction.memory_format`): the results equal the defaults' within float32 rounding, the
setting is recorded in the outputs, and a value the device cannot run stops the job before any
work."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pcgc.compute.compilation import check_compile_mode
from pcgc.compute.dynamics import PCDynamics
from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages.extract import extract
from pcgc.storage.h5io import read_json_attr
from pcgc.storage.network_inputs import load_dynamics
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)


def test_modes_the_device_cannot_run_are_refused_naming_the_key():
    with pytest.raises(ValueError, match=r"extraction.compile: inductor-cudagraphs replays CUDA graphs and needs a CUDA device; this job runs on cpu"):
        check_compile_mode("inductor-cudagraphs", torch.device("cpu"))
    with pytest.raises(ValueError, match=r"extraction.compile: 'jit' is not one of eager, inductor, inductor-cudagraphs"):
        PCDynamics(random_mini(5, 4), compile_mode="jit")


def test_eager_runs_the_timestep_itself():
    dynamics = PCDynamics(random_mini(5, 4))
    assert dynamics._timestep == dynamics._step


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_stage_inputs(tmp_path_factory.mktemp("compile"), random_mini(5, 4), count=3)


def extracted(files, folder, **settings) -> Path:
    """The extraction file of the same job with other execution settings."""
    out = folder / f"{'_'.join(settings.values()) or 'default'}.h5"
    extract(stage_network(files, **settings), hps_name="hps_0", hps=HPS, timesteps=3, batch_size=3, out_h5=out)
    return out


@pytest.fixture(scope="module")
def default_run(files, tmp_path_factory):
    return extracted(files, tmp_path_factory.mktemp("default"))


def assert_equal_within_rounding(path, default_path, attribute: str, value: str, default_value: str) -> None:
    """The file equals the default run's within float32 rounding, and its `attribute` records how
    it ran (`value`; the default run's: `default_value`)."""
    with h5py.File(path) as other, h5py.File(default_path) as default:
        assert read_json_attr(other, attribute, path) == value
        assert read_json_attr(default, attribute, default_path) == default_value
        np.testing.assert_array_equal(other["top1"][()], default["top1"][()])
        for name in ("cams/gradcam/pcoder5", "target_logit", "prediction_error", "representation_change"):
            expected = default[name][()]
            scale = np.nanmax(np.abs(expected))
            np.testing.assert_allclose(other[name][()], expected, rtol=0, atol=1e-5 * scale, err_msg=name)
        # The timesteps after t = 0 did run another way: the file is not the default one again.
        assert not np.array_equal(other["prediction_error"][:, 1:], default["prediction_error"][:, 1:])


@pytest.mark.slow
def test_an_extraction_through_inductor_equals_the_eager_one_and_says_how_it_ran(files, default_run, tmp_path):
    # About half a minute on 2 CPU cores: TorchInductor compiles the timestep and its last step.
    compiled = extracted(files, tmp_path, compile_mode="inductor")
    assert_equal_within_rounding(compiled, default_run, "compile", "inductor", "eager")


def test_channels_last_runs_the_whole_state_in_it_with_the_same_results(files, default_run, tmp_path):
    nhwc = extracted(files, tmp_path, memory_format="channels_last")
    assert_equal_within_rounding(nhwc, default_run, "memory_format", "channels_last", "contiguous")
    dynamics = load_dynamics(
        "mini", 4, files["backbone"], files["pmodules"], gradient_scaling=False, device=torch.device("cpu"),
        memory_format="channels_last",
    )
    state = dynamics.initial_state(torch.randn(2, 3, 96, 96))
    for tensors in (state.reps, state.predictions, state.gradients):
        assert all(t.is_contiguous(memory_format=torch.channels_last) for t in tensors)
