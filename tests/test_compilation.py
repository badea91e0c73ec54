"""`extraction.compile`: the compiled timestep equals the eager one within float32 rounding, is
recorded in the outputs, and a mode the device cannot run stops the job before any work."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from pcgc.compilation import check_compile_mode
from pcgc.dynamics import HyperParameters, PCDynamics
from pcgc.h5io import read_json_attr
from pcgc.stages.extract import extract
from pcgc.stages.network import NetworkInputs
from tests.conftest import random_mini
from tests.stage_fixtures import write_stage_inputs

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


def network(files, compile_mode: str) -> NetworkInputs:
    return NetworkInputs(
        files["selection"], files["inputs"], files["backbone"], tuple(files["pmodules"]),
        spec="mini", gradient_scaling=False, precision="fp32", device="cpu", compile_mode=compile_mode,
    )


def test_an_extraction_through_inductor_equals_the_eager_one_and_says_how_it_ran(files, tmp_path):
    # About half a minute on 2 CPU cores: TorchInductor compiles the timestep and its last step.
    outputs = {}
    for mode in ("eager", "inductor"):
        outputs[mode] = tmp_path / f"{mode}.h5"
        extract(network(files, mode), hps_name="hps_0", hps=HPS, timesteps=3, batch_size=3, out_h5=outputs[mode])
    with h5py.File(outputs["eager"]) as eager, h5py.File(outputs["inductor"]) as compiled:
        assert read_json_attr(eager, "compile", outputs["eager"]) == "eager"
        assert read_json_attr(compiled, "compile", outputs["inductor"]) == "inductor"
        np.testing.assert_array_equal(compiled["top1"][()], eager["top1"][()])
        for name in ("cams/gradcam/pcoder5", "target_logit", "prediction_error", "representation_change"):
            expected = eager[name][()]
            scale = np.nanmax(np.abs(expected))
            np.testing.assert_allclose(compiled[name][()], expected, rtol=0, atol=1e-5 * scale, err_msg=name)
            # The timesteps after t = 0 went through the compiled step: the run is not the eager one replayed.
        assert not np.array_equal(compiled["prediction_error"][:, 1:], eager["prediction_error"][:, 1:])
