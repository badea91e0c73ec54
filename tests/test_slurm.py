"""The tiny demo through profiles/slurm on a real SLURM: every job goes through sbatch (the
scheduler's own job completion records say so), sweep chunks go out as a job array, and every
output equals that of a local run of the same configuration.

The cluster is the one already running, or one started here with .ci/slurm/start.sh and stopped
afterwards (root only; .ci/slurm/install.sh installs Debian's packages). Without SLURM the test is
skipped, unless PCGC_REQUIRE_SLURM=1 (set by .ci/run), where a missing SLURM is a failure.

The test cluster has no accounting database: the executor follows its jobs with `squeue`
(`--slurm-status-command squeue`), and the record of what ran is slurmctld's job completion log
(jobcomp/filetxt). Its node has no GPU, so the network jobs' GPU request is overridden with
`--set-resources <rule>:gpu=0`; everything else comes from profiles/slurm as shipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from tests.workflow_helpers import REPO, copy_workflow, planned_jobs, shared_tiny_config, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

NETWORK_RULES = ("extract", "sweep_chunk", "fig1_cams")
# Settings of the accounting-free test cluster, not of the profile: job states from squeue, and the
# first status check after 1 s instead of 40 (a tiny job is done by then).
TEST_CLUSTER_ARGS = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1")


def _unavailable(reason: str) -> None:
    if os.environ.get("PCGC_REQUIRE_SLURM") == "1":
        pytest.fail(f"PCGC_REQUIRE_SLURM=1, but {reason}")
    pytest.skip(reason)


def _node_state() -> str | None:
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def _slurm_setting(name: str) -> str:
    text = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    match = re.search(rf"^{name}\s*=\s*(\S*)", text, re.MULTILINE)
    return match.group(1) if match else ""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The job completion log of a running SLURM (started here when none runs, and then stopped)."""
    if shutil.which("sbatch") is None:
        _unavailable("SLURM is not installed (.ci/slurm/install.sh installs it)")
    scratch = None
    if _node_state() is None:
        if os.geteuid() != 0 or shutil.which("slurmctld") is None:
            _unavailable("no SLURM cluster runs, and starting one here needs root and slurmctld")
        scratch = tmp_path_factory.mktemp("slurm")
        subprocess.run(["bash", str(REPO / ".ci/slurm/start.sh"), str(scratch)], check=True, timeout=180)
    try:
        if _slurm_setting("JobCompType") != "jobcomp/filetxt":
            pytest.fail("the cluster keeps no job completion log (JobCompType=jobcomp/filetxt, as .ci/slurm/start.sh sets)")
        yield Path(_slurm_setting("JobCompLoc"))
    finally:
        if scratch is not None:
            subprocess.run(["bash", str(REPO / ".ci/slurm/stop.sh"), str(scratch)], check=True, timeout=120)


def completion_records(log: Path, workdir: Path) -> list[dict[str, str]]:
    """slurmctld's records of the jobs that ran in `workdir` (one `Key=value ...` line each)."""
    records = []
    for line in log.read_text().splitlines():
        record = dict(field.split("=", 1) for field in line.split() if "=" in field)
        if Path(record.get("WorkDir", "/nonexistent")).resolve() == workdir.resolve():
            records.append(record)
    return records


def submissions(output: str) -> tuple[dict[str, list[str]], dict[str, int]]:
    """What the executor says it submitted: SLURM job ids by rule (from each job's SLURM log
    folder), and each array job's id with its number of tasks."""
    singles: dict[str, list[str]] = {}
    for jobid, rule in re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", output):
        singles.setdefault(rule, []).append(jobid)
    arrays = {
        jobid: len(ids.split(","))
        for ids, jobid in re.findall(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)", output)
    }
    return singles, arrays


def result_files(results: Path) -> set[str]:
    # Logs and benchmarks record how a job ran (times, hosts), not what it computed.
    return {
        str(path.relative_to(results))
        for path in results.rglob("*")
        if path.is_file() and path.relative_to(results).parts[0] not in ("logs", "benchmarks")
    }


def assert_h5_equal(a: Path, b: Path) -> None:
    with h5py.File(a) as left, h5py.File(b) as right:
        names: list[str] = []
        left.visit(names.append)
        other: list[str] = []
        right.visit(other.append)
        assert names == other, a
        for name in ["/", *names]:
            assert dict(left[name].attrs) == dict(right[name].attrs), f"{a}: attributes of {name}"
            if isinstance(left[name], h5py.Dataset):
                values, others = left[name][()], right[name][()]
                # NaN where a value is undefined (t = 0's representation change) equals NaN.
                same_nan = np.issubdtype(np.asarray(values).dtype, np.floating)
                assert np.array_equal(values, others, equal_nan=same_nan), f"{a}: dataset {name}"


def assert_same_output(name: str, local: Path, cluster: Path) -> None:
    suffix = Path(name).suffix
    if suffix == ".h5":
        assert_h5_equal(local, cluster)
    elif suffix == ".parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(local), pd.read_parquet(cluster), check_exact=True)
    elif suffix == ".csv":
        pd.testing.assert_frame_equal(pd.read_csv(local), pd.read_csv(cluster), check_exact=True)
    elif suffix == ".pth":
        left, right = (torch.load(path, map_location="cpu", weights_only=True) for path in (local, cluster))
        assert left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left), name
    elif suffix == ".json":
        # training.json records how long training took (`seconds`): how it ran, not what it computed.
        left, right = (json.loads(path.read_text()) for path in (local, cluster))
        for record in (left, right):
            record.pop("seconds", None)
        assert left == right, name
    elif suffix in (".png", ".pdf") and Path(name).parts[0] == "figures":
        # Drawn from tables compared above; PDFs carry their creation date.
        assert cluster.stat().st_size > 1000, name
    elif name.endswith(".snakemake_timestamp"):
        pass  # a directory output's time stamp
    else:
        assert local.read_bytes() == cluster.read_bytes(), name


def test_the_tiny_demo_through_profiles_slurm_equals_a_local_run(cluster, tiny_workflow, tmp_path):
    # The local reference is the shared tiny run, made with the same configuration.
    local, _ = tiny_workflow
    on_slurm = copy_workflow(tmp_path / "slurm")
    configfile = write_config(on_slurm, shared_tiny_config())
    expected = planned_jobs(on_slurm, configfile)
    expected.pop("all")  # a target without a job
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--configfile", str(configfile), *TEST_CLUSTER_ARGS,
         "--set-resources", *(f"{rule}:gpu=0" for rule in NETWORK_RULES)],
        cwd=on_slurm, capture_output=True, text=True, timeout=1800,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    print(f"through SLURM in {time.monotonic() - started:.0f} s")

    # What the executor submitted: every job of the plan; the sweep chunks that were ready together
    # as array jobs (a chunk that became ready alone goes out alone).
    singles, arrays = submissions(output)
    assert arrays and max(arrays.values()) > 1, output
    chunks_alone = len(singles.get("sweep_chunk", []))
    assert chunks_alone + sum(arrays.values()) == expected["sweep_chunk"], output
    assert {rule: len(ids) for rule, ids in singles.items() if rule != "sweep_chunk"} == {
        rule: count for rule, count in expected.items() if rule != "sweep_chunk"
    }

    # What the scheduler ran: each of those jobs, completed with exit code 0, and nothing else.
    records = completion_records(cluster, on_slurm)
    assert all(r["JobState"] == "COMPLETED" and r["ExitCode"] == "0:0" for r in records), records
    plain = sorted(r["JobId"] for r in records if "ArrayJobId" not in r)
    assert plain == sorted(jobid for ids in singles.values() for jobid in ids)
    tasks: dict[str, int] = {}
    for record in records:
        if "ArrayJobId" in record:
            tasks[record["ArrayJobId"]] = tasks.get(record["ArrayJobId"], 0) + 1
    assert tasks == arrays
    assert len(records) == sum(expected.values())

    # The same results as the local run, and nothing left to do.
    local_files, cluster_files = result_files(local / "results/tiny"), result_files(on_slurm / "results/tiny")
    assert local_files == cluster_files
    for name in sorted(local_files):
        assert_same_output(name, local / "results/tiny" / name, on_slurm / "results/tiny" / name)
    assert planned_jobs(on_slurm, configfile) == {}


# The SLURM job states after which a job runs no more (squeue's %T).
ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"}


def job_state(job_id: str) -> str:
    """What squeue says of job `job_id` (finished jobs stay listed: MinJobAge=3600 on the test cluster)."""
    result = subprocess.run(["squeue", "-h", "--states=all", "-j", job_id, "-o", "%T"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def jobs_in(workdir: Path) -> list[str]:
    """The ids of every job squeue knows that works in `workdir`, whatever its state."""
    result = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i|%Z"], capture_output=True, text=True, check=True)
    return sorted(line.split("|")[0] for line in result.stdout.splitlines() if Path(line.split("|", 1)[1]).resolve() == workdir.resolve())


def wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {timeout} s"
        time.sleep(0.2)


def test_a_killed_controller_leaves_its_running_job_alone_and_a_plain_rerun_finishes(cluster, tiny_workflow, tmp_path):
    # The demo's world and its training, through profiles/slurm; the controller (Snakemake on the
    # login node) is SIGKILLed while the demo_world job runs on SLURM, as when a login session dies.
    local, _ = tiny_workflow
    workdir = copy_workflow(tmp_path / "killed")
    configfile = write_config(workdir, shared_tiny_config())
    until = ("--until", "train_demo")
    expected = planned_jobs(workdir, configfile, *until)
    assert expected == {"demo_world": 1, "train_demo": 1}
    command = [
        sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", "--configfile", str(configfile), *TEST_CLUSTER_ARGS,
        "--set-resources", *(f"{rule}:gpu=0" for rule in NETWORK_RULES), *until,
    ]
    log = tmp_path / "controller.log"
    with open(log, "w") as out:
        controller = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: submissions(log.read_text())[0].get("demo_world") or controller.poll() is not None, "demo_world's submission")
        assert controller.poll() is None, log.read_text()
        (job,) = submissions(log.read_text())[0]["demo_world"]
        wait_for(lambda: job_state(job) == "RUNNING", f"job {job} running")
    finally:
        os.killpg(controller.pid, signal.SIGKILL)
        controller.wait()
    # Paused (its processes stopped), the job is sure to be still there when the rerun asks.
    subprocess.run(["scontrol", "suspend", job], check=True)
    try:
        refused = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0, output
        assert f"its SLURM jobs are still queued or running: {job} (SUSPENDED)" in output, output
        assert f"`squeue -j {job}`" in output and f"`scancel {job}`" in output, output
        assert submissions(output) == ({}, {}), output
        assert jobs_in(workdir) == [job]  # nothing submitted a second time
    finally:
        subprocess.run(["scontrol", "resume", job], check=True)

    # Once the job has ended, the same command finishes the workflow, without running it again.
    wait_for(lambda: job_state(job) in ENDED, f"job {job} ended")
    assert job_state(job) == "COMPLETED"
    started = time.monotonic()
    rerun = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1200, check=False)
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output
    print(f"rerun through SLURM in {time.monotonic() - started:.0f} s")
    assert "removed the lock of a killed Snakemake run" in output, output
    singles, _ = submissions(output)
    assert list(singles) == ["train_demo"], output

    # The scheduler ran exactly one job per output, each to completion.
    records = completion_records(cluster, workdir)
    assert sorted(r["JobId"] for r in records) == sorted([job, *singles["train_demo"]]), records
    assert all(r["JobState"] == "COMPLETED" and r["ExitCode"] == "0:0" for r in records), records
    assert len(records) == sum(expected.values())

    # The files of an uninterrupted run (the shared tiny run made them locally), nothing left to do.
    ours = result_files(workdir / "results/tiny")
    assert {name.split("/")[0] for name in ours} == {"world", "weights"}
    assert ours == {name for name in result_files(local / "results/tiny") if name.split("/")[0] in ("world", "weights")}
    for name in sorted(ours):
        assert_same_output(name, local / "results/tiny" / name, workdir / "results/tiny" / name)
    assert planned_jobs(workdir, configfile, *until) == {}
