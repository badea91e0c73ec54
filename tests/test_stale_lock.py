"""A killed run's Snakemake lock goes when nothing of that run is alive, and only then."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pcgc.spec.stale_lock import RECORD, record_run, release_if_stale

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process groups from /proc")


def locked_state(tmp_path: Path, record: dict | None) -> Path:
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks/0.output.lock").write_text("results/x.h5\n")
    if record is not None:
        (state / RECORD).write_text(json.dumps(record))
    return state


def dead_group() -> int:
    """The id of a process group whose every process has exited."""
    process = subprocess.Popen(["true"], start_new_session=True)
    process.wait()
    return process.pid


def test_the_lock_of_a_run_whose_processes_are_all_gone_is_removed(tmp_path):
    pgid = dead_group()
    state = locked_state(tmp_path, {"host": socket.gethostname(), "pid": pgid, "pgid": pgid})
    note = release_if_stale(state)
    assert note.startswith(f"removed the lock of a killed Snakemake run (pid {pgid} on {socket.gethostname()}")
    assert not (state / "locks").exists() and not (state / RECORD).exists()
    assert release_if_stale(state) is None  # nothing left to do


def test_a_job_still_running_keeps_the_lock_and_is_named(tmp_path):
    # The group's leader (Snakemake) is gone, a process it started (a job) still runs.
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!"], stdout=subprocess.PIPE, text=True, start_new_session=True)
    job = int(leader.stdout.readline())
    leader.wait()
    try:
        state = locked_state(tmp_path, {"host": socket.gethostname(), "pid": leader.pid, "pgid": leader.pid})
        note = release_if_stale(state)
        assert note == (
            f"the lock of a killed Snakemake run (pid {leader.pid} on {socket.gethostname()}) stays: jobs it started "
            f"still run (pids {job}); wait for them or kill them, then run again"
        )
        assert (state / "locks/0.output.lock").exists()
    finally:
        os.kill(job, 9)
    deadline = time.monotonic() + 10
    while (Path(f"/proc/{job}").exists() and "Z" not in Path(f"/proc/{job}/stat").read_text().split(")")[-1][:3]
           and time.monotonic() < deadline):
        time.sleep(0.01)
    assert release_if_stale(state).startswith("removed the lock")


def test_a_live_run_another_host_or_an_unknown_lock_are_left_alone(tmp_path):
    record_run(tmp_path / "live/.snakemake")  # this test's own process: alive
    record = json.loads((tmp_path / "live/.snakemake" / RECORD).read_text())
    assert record == {"host": socket.gethostname(), "pid": os.getpid(), "pgid": os.getpgid(0)}
    live = locked_state(tmp_path / "live2", record)
    pgid = dead_group()
    elsewhere = locked_state(tmp_path / "elsewhere", {"host": socket.gethostname() + "-other", "pid": pgid, "pgid": pgid})
    unknown = locked_state(tmp_path / "unknown", None)
    garbled = locked_state(tmp_path / "garbled", None)
    (garbled / RECORD).write_text("{not json")
    for state in (live, elsewhere, unknown, garbled):
        assert release_if_stale(state) is None
        assert (state / "locks/0.output.lock").exists()
