"""A killed run's Snakemake lock goes when nothing that run started can still write, and only then:
its local jobs (a process of its group started after it, which is not the asking run or one of its
ancestors) and its SLURM jobs (asked of `squeue`, here a fake one on PATH) keep it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pcgc.spec.stale_lock import (
    RECORD,
    ClusterJob,
    Process,
    boot_id,
    leftover_jobs,
    lineage,
    parse_squeue,
    parse_stat,
    read_process,
    record_run,
    release_if_stale,
    slurm_run_id,
    unfinished_run_jobs,
)
from tests.workflow_helpers import REPO

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process groups from /proc")

RUN_ID = "0f5e1c4a-3b6d-4a57-9a1e-2c8d7f6b5e40"


def record_of(pid: int, pgid: int | None = None, started: int = 0, **changes) -> dict:
    """A record as `record_run` writes it, of a local run on this host and boot."""
    record = {
        "host": socket.gethostname(), "boot_id": boot_id(), "pid": pid, "pgid": pid if pgid is None else pgid,
        "started": started, "workdir": "/nonexistent/workdir", "executor": "local", "cluster": False, "run_id": None,
    }
    return {**record, **changes}


def locked_state(tmp_path: Path, record: dict | None) -> Path:
    state = tmp_path / ".snakemake"
    (state / "locks").mkdir(parents=True)
    (state / "locks/0.output.lock").write_text("results/x.h5\n")
    if record is not None:
        (state / RECORD).write_text(json.dumps(record))
        past = time.time_ns() - 10**9  # the lock was taken before the run recorded itself, as in Snakemake
        os.utime(state / "locks/0.output.lock", ns=(past, past))
    return state


def dead_group() -> int:
    """The id of a process group whose every process has exited."""
    process = subprocess.Popen(["/bin/sh", "-c", ":"], start_new_session=True)
    process.wait()
    return process.pid


def wait_gone(pid: int, timeout: float = 10) -> None:
    """Until `pid` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = read_process(pid)
        if process is None or process.state == "Z":
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still runs after {timeout} s")


def test_the_lock_of_a_run_whose_processes_are_all_gone_is_removed(tmp_path):
    pgid = dead_group()
    state = locked_state(tmp_path, record_of(pgid))
    note = release_if_stale(state)
    assert note.startswith(f"removed the lock of a killed Snakemake run (pid {pgid} on {socket.gethostname()}")
    assert not (state / "locks").exists() and not (state / RECORD).exists()
    assert release_if_stale(state) is None  # nothing left to do


def test_a_job_still_running_keeps_the_lock_and_is_named(tmp_path):
    # The group's leader (Snakemake) is gone, a process it started (a job) still runs. The job
    # starts a moment after its leader, as jobs start after Snakemake has parsed the workflow.
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 0.1; sleep 60 & echo $!; read _"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    started = read_process(leader.pid).started
    job = int(leader.stdout.readline())
    leader.stdin.close()
    leader.wait()
    try:
        state = locked_state(tmp_path, record_of(leader.pid, started=started))
        note = release_if_stale(state)
        assert note == (
            f"the lock of a killed Snakemake run (pid {leader.pid} on {socket.gethostname()}) stays: jobs it started "
            f"still run (pids {job}); wait for them or kill them, then run again"
        )
        assert (state / "locks/0.output.lock").exists()
    finally:
        os.kill(job, signal.SIGKILL)
    wait_gone(job)
    assert release_if_stale(state).startswith("removed the lock")


def test_a_live_run_another_host_an_unknown_lock_or_a_later_lock_are_left_alone(tmp_path):
    record_run(tmp_path / "live/.snakemake")  # this test's own process: alive
    record = json.loads((tmp_path / "live/.snakemake" / RECORD).read_text())
    assert record == record_of(
        os.getpid(), os.getpgid(0), started=read_process(os.getpid()).started, workdir=os.getcwd()
    )
    live = locked_state(tmp_path / "live2", record)
    pgid = dead_group()
    elsewhere = locked_state(tmp_path / "elsewhere", record_of(pgid, host=socket.gethostname() + "-other"))
    unknown = locked_state(tmp_path / "unknown", None)
    garbled = locked_state(tmp_path / "garbled", None)
    (garbled / RECORD).write_text("{not json")
    older_format = locked_state(tmp_path / "older", {"host": socket.gethostname(), "pid": pgid, "pgid": pgid})
    # A run that took the lock after the record was written (it is still building its DAG): the
    # record describes an earlier run, not this lock.
    later = locked_state(tmp_path / "later", record_of(pgid))
    recorded = (later / RECORD).stat().st_mtime_ns
    os.utime(later / "locks/0.output.lock", ns=(recorded + 10**9, recorded + 10**9))
    for state in (live, elsewhere, unknown, garbled, older_format, later):
        assert release_if_stale(state) is None, state
        assert (state / "locks/0.output.lock").exists()


def test_a_reused_pid_or_another_boot_is_not_the_recorded_run(tmp_path):
    me = read_process(os.getpid())
    # This process under the run's pid, but started at another time: the pid was reused.
    reused = locked_state(tmp_path / "reused", record_of(os.getpid(), dead_group(), started=me.started - 1))
    assert release_if_stale(reused).startswith("removed the lock")
    # The run's very pid and start time, but of an earlier boot: nothing of it survived the reboot.
    rebooted = locked_state(tmp_path / "rebooted", record_of(os.getpid(), os.getpgid(0), me.started, boot_id="an-earlier-boot"))
    assert release_if_stale(rebooted).startswith("removed the lock")


def test_stat_fields_are_read_past_a_command_name_with_spaces_and_parentheses():
    text = "4242 (python (job) 1) S 1 4000 4000 0 -1 4194560 0 0 0 0 7 3 0 0 20 0 3 0 98765 1 2 3\n"
    assert parse_stat(4242, text) == Process(pid=4242, ppid=1, pgid=4000, state="S", started=98765, command="python (job) 1")
    assert read_process(os.getpid()).pgid == os.getpgid(0)


def table(*rows: tuple[int, int, int, str, int]) -> dict[int, Process]:
    return {pid: Process(pid, ppid, pgid, state, started, "x") for pid, ppid, pgid, state, started in rows}


def test_only_processes_the_killed_run_can_have_started_count_as_its_jobs():
    # A retry wrapper (bash, 100) ran Snakemake (200, started at tick 50, SIGKILLed); its job 300
    # was re-parented to init; the wrapper's rerun (400) and the rerun's own child (500) are in
    # the same group.
    processes = table(
        (1, 0, 1, "S", 0),
        (100, 1, 100, "S", 40),  # the wrapper: started before the killed run
        (300, 1, 100, "R", 60),  # the killed run's job
        (301, 1, 100, "Z", 61),  # a job that has exited (a zombie)
        (400, 100, 100, "R", 90),  # the rerun: this process
        (500, 400, 100, "S", 95),  # a process the rerun started
        (600, 1, 600, "S", 70),  # another group
        (700, 1, 100, "S", 50),  # started in the very tick the killed run started: no job of it
    )
    assert lineage(processes, 400) == {1, 100, 400, 500}
    assert leftover_jobs(processes, pgid=100, started=50, me=400) == [300]
    assert leftover_jobs(processes, pgid=100, started=60, me=400) == []
    # The run asks from elsewhere (a new process group): the wrapper counts as before nothing.
    assert leftover_jobs(processes, pgid=100, started=30, me=600) == [100, 300, 400, 500, 700]


KILLED_RUN = """
import os, signal, subprocess, sys, time
from pathlib import Path
from pcgc.spec.stale_lock import record_run
state = Path(sys.argv[1])
(state / "locks").mkdir(parents=True)
(state / "locks/0.output.lock").write_text("results/x.h5\\n")
time.sleep(0.05)  # the lock is older than the record, as in Snakemake (lock, DAG, then onstart)
record_run(state)
if len(sys.argv) > 2:  # a job that outlives its Snakemake
    time.sleep(0.05)
    job = subprocess.Popen(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    Path(sys.argv[2]).write_text(str(job.pid))
os.kill(os.getpid(), signal.SIGKILL)
"""

RERUN = """
import sys
from pcgc.spec.stale_lock import release_if_stale
print(release_if_stale(sys.argv[1]))
"""


def wrapper(state: Path, *job_file: str) -> subprocess.CompletedProcess:
    """`sh -c 'killed run || rerun'`: a script without job control, so both runs are in its process
    group. Returns the rerun's printout."""
    script = f"{sys.executable} -c \"$KILLED\" {state} {' '.join(job_file)} || {sys.executable} -c \"$RERUN\" {state}"
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=60, start_new_session=True, check=False,
        env=dict(os.environ, KILLED=KILLED_RUN, RERUN=RERUN, PYTHONPATH=str(REPO)),
    )


def test_a_retry_wrapper_rerun_removes_the_lock_of_the_run_it_follows(tmp_path):
    # Neither the wrapper (started before the killed run) nor the rerun itself is a job of it.
    state = tmp_path / ".snakemake"
    result = wrapper(state)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed the lock of a killed Snakemake run"), result.stdout
    assert not (state / "locks").exists()


def test_a_retry_wrapper_rerun_keeps_the_lock_while_a_job_of_the_killed_run_runs(tmp_path):
    state, job_file = tmp_path / ".snakemake", tmp_path / "job.pid"
    result = wrapper(state, str(job_file))
    job = int(job_file.read_text())
    try:
        assert result.returncode == 0, result.stderr
        assert f"jobs it started still run (pids {job});" in result.stdout, result.stdout
        assert (state / "locks/0.output.lock").exists()
    finally:
        os.kill(job, signal.SIGKILL)


# SLURM: a fake `squeue` on PATH prints what the scheduler would, and notes how it was called.
SQUEUE_LINES = [
    f"101|RUNNING|{RUN_ID}|/work/flow",
    f"102_3|PENDING|{RUN_ID}|/work/flow",
    f"102_4|COMPLETING|{RUN_ID}|/work/flow",
    f"99|COMPLETED|{RUN_ID}|/work/flow",
    f"98|CANCELLED|{RUN_ID}|/work/flow",
    "200|RUNNING|another-run|/work/flow",
    "201|RUNNING|another-run|/elsewhere",
]


def fake_squeue(tmp_path: Path, monkeypatch, lines: list[str] | None, exit_code: int = 0, stderr: str = "") -> Path:
    """Put a `squeue` printing `lines` (exiting with `exit_code`) first on PATH, or, with `lines`
    None, no `squeue` at all; returns the file its arguments are written to."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "squeue.calls"
    bin_dir.mkdir()
    if lines is not None:
        script = bin_dir / "squeue"
        script.write_text(textwrap.dedent(f"""\
            #!/bin/sh
            echo "$@" >> {calls}
            printf '%s\\n' {' '.join(repr(line) for line in lines)}
            [ -n {stderr!r} ] && echo {stderr!r} >&2
            exit {exit_code}
            """))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return calls


def slurm_record(run_id: str | None = RUN_ID, **changes) -> dict:
    settings = {"executor": "slurm", "cluster": True, "run_id": run_id, "workdir": "/work/flow", **changes}
    return record_of(dead_group(), **settings)


def test_squeue_lines_are_parsed_and_a_runs_unfinished_jobs_picked():
    jobs = parse_squeue("\n".join(["CLUSTER: pcgc-ci", *SQUEUE_LINES, "", "slurm_load_jobs: a notice"]))
    assert jobs[0] == ClusterJob("101", "RUNNING", RUN_ID, "/work/flow") and len(jobs) == len(SQUEUE_LINES)
    assert [j.job_id for j in unfinished_run_jobs(jobs, run_id=RUN_ID, workdir="/x")] == ["101", "102_3", "102_4"]
    # Without the run's identifier, every unfinished job working in its directory.
    assert [j.job_id for j in unfinished_run_jobs(jobs, run_id=None, workdir="/work/flow")] == ["101", "102_3", "102_4", "200"]
    # A state squeue may add one day is taken for a job that still runs.
    assert unfinished_run_jobs([ClusterJob("7", "NEW_STATE", RUN_ID, "/")], run_id=RUN_ID, workdir="/") != []


def test_a_killed_slurm_runs_queued_or_running_jobs_keep_the_lock_and_are_named(tmp_path, monkeypatch):
    calls = fake_squeue(tmp_path, monkeypatch, SQUEUE_LINES)
    record = slurm_record()
    state = locked_state(tmp_path, record)
    note = release_if_stale(state)
    assert note == (
        f"the lock of a killed Snakemake run (pid {record['pid']} on {socket.gethostname()}) stays: its SLURM jobs are "
        "still queued or running: 101 (RUNNING), 102_3 (PENDING), 102_4 (COMPLETING); wait for them to end "
        "(`squeue -j 101,102_3,102_4` lists them until they have) or cancel them (`scancel 101 102_3 102_4`), then run again"
    )
    assert (state / "locks/0.output.lock").exists()
    # Every state (a suspended job is listed only then), this user's jobs.
    assert calls.read_text().split() == ["--noheader", "--states=all", f"--user={os.getuid()}", "--format=%i|%T|%j|%Z"]


def test_a_killed_slurm_run_whose_jobs_all_ended_loses_its_lock(tmp_path, monkeypatch):
    fake_squeue(tmp_path, monkeypatch, [line for line in SQUEUE_LINES if "|COMPLETED|" in line or "another-run" in line])
    state = locked_state(tmp_path, slurm_record())
    note = release_if_stale(state)
    assert note.startswith("removed the lock of a killed Snakemake run") and "none of its slurm jobs is queued or running" in note
    assert not (state / "locks").exists()


def test_without_the_run_identifier_the_jobs_in_its_directory_keep_the_lock(tmp_path, monkeypatch):
    fake_squeue(tmp_path, monkeypatch, SQUEUE_LINES)
    state = locked_state(tmp_path, slurm_record(run_id=None))
    assert "101 (RUNNING), 102_3 (PENDING), 102_4 (COMPLETING), 200 (RUNNING);" in release_if_stale(state)


@pytest.mark.parametrize(
    ("lines", "exit_code", "stderr", "reason"),
    [
        (None, 0, "", "`squeue` is not on PATH"),
        ([], 1, "slurm_load_jobs error: Unable to contact slurm controller", "failed (exit 1): slurm_load_jobs error: Unable to contact"),
    ],
    ids=["missing", "failing"],
)
def test_a_scheduler_that_cannot_be_asked_keeps_the_lock_and_says_why(tmp_path, monkeypatch, lines, exit_code, stderr, reason):
    fake_squeue(tmp_path, monkeypatch, lines, exit_code, stderr)
    state = locked_state(tmp_path, slurm_record())
    note = release_if_stale(state)
    assert "stays: it ran its jobs through SLURM and the scheduler cannot be asked whether they still run (" in note, note
    assert reason in note and f"once none of its jobs, named {RUN_ID}, is queued or running any more" in note, note
    assert (state / "locks/0.output.lock").exists()


def test_a_cluster_executor_pcgc_cannot_ask_keeps_the_lock(tmp_path, monkeypatch):
    fake_squeue(tmp_path, monkeypatch, [])
    state = locked_state(tmp_path, slurm_record(executor="cluster-generic", run_id=None))
    note = release_if_stale(state)
    assert "stays: it ran its jobs through the 'cluster-generic' executor, whose scheduler pcgc cannot ask" in note
    assert (state / "locks/0.output.lock").exists()


def test_the_slurm_run_identifier_is_read_from_the_executor():
    assert slurm_run_id(SimpleNamespace(scheduler=SimpleNamespace(_executor=SimpleNamespace(run_uuid=RUN_ID)))) == RUN_ID
    assert slurm_run_id(SimpleNamespace(scheduler=SimpleNamespace(_executor=object()))) is None
    assert slurm_run_id(object()) is None
