"""Writing while computing (`pcgc.storage.overlap`): order, bounded queue, failures, and extraction files
equal to the plain path's. Host copies are tested on CUDA (`tests/test_cuda.py`): on the CPU there
is nothing to copy."""

from __future__ import annotations

import threading
import time

import h5py
import numpy as np
import pytest

from pcgc.spec.hyperparameters import HyperParameters
from pcgc.stages.extract import extract
from pcgc.storage.overlap import BackgroundWriter
from tests.conftest import random_mini
from tests.stage_fixtures import stage_network, write_stage_inputs

HPS = HyperParameters((0.2, 0.4, 0.4, 0.5, 0.6), (0.05, 0.1, 0.1, 0.1, 0.0), (0.01,) * 5)


def test_jobs_run_in_order_in_another_thread():
    done, threads = [], set()

    def job(k):
        time.sleep(0.01 * (k % 2))  # the order must not depend on how long a job takes
        done.append(k)
        threads.add(threading.current_thread().name)

    with BackgroundWriter() as writer:
        for k in range(8):
            writer.submit(job, k)
    assert done == list(range(8))
    assert threads and threading.current_thread().name not in threads


def test_submit_waits_while_the_queue_is_full():
    release = threading.Event()
    submitted = []
    with BackgroundWriter(pending=2) as writer:

        def submit_three():
            for k in range(3):
                writer.submit(release.wait)
                submitted.append(k)

        caller = threading.Thread(target=submit_three)
        caller.start()
        time.sleep(0.3)
        assert submitted == [0, 1]  # the third waits for the first to finish
        release.set()
        caller.join(5)
    assert submitted == [0, 1, 2]


def test_a_failed_write_is_raised_in_the_callers_thread():
    ran = []

    def fail():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        with BackgroundWriter() as writer:
            writer.submit(fail)
            for k in range(20):
                time.sleep(0.01)
                writer.submit(ran.append, k)
    # The failure stops the job: it is raised at the first submit after it, not at the end.
    assert len(ran) < 20


def test_a_failing_computation_still_waits_for_the_writes_submitted():
    finished = threading.Event()

    def slow_write():
        time.sleep(0.2)
        finished.set()

    with pytest.raises(ValueError, match="computation failed"):
        with BackgroundWriter() as writer:
            writer.submit(slow_write)
            raise ValueError("computation failed")
    assert finished.is_set()


def test_the_plain_path_writes_at_once():
    done = []
    with BackgroundWriter(threaded=False) as writer:
        writer.submit(done.append, 1)
        assert done == [1]


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    return stage_network(write_stage_inputs(tmp_path_factory.mktemp("overlap"), random_mini(5, 4), count=7))


def test_overlapped_extraction_writes_the_plain_paths_file(network, tmp_path):
    cams = {"methods": ["gradcam", "layercam"], "layers": ["pcoder3", "pcoder5"]}
    files = {}
    for overlap in (False, True):
        files[overlap] = tmp_path / f"overlap_{overlap}.h5"
        # 7 images in batches of 2: four batches, the last one short.
        extract(network, hps_name="hps_0", hps=HPS, timesteps=2, batch_size=2, out_h5=files[overlap], cams=cams,
                overlap_writes=overlap)
    with h5py.File(files[False]) as plain, h5py.File(files[True]) as overlapped:
        names = []
        plain.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
        assert "cams/layercam/pcoder3" in names and "prediction_error" in names
        for name in names:
            np.testing.assert_array_equal(overlapped[name][()], plain[name][()], err_msg=name)
        assert dict(overlapped.attrs) == dict(plain.attrs)
