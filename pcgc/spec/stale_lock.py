"""A Snakemake lock left by a killed run, removed only when nothing that run started can still write.

Snakemake locks the working directory while it runs and removes the lock when it exits. A run
killed with SIGKILL (or a lost login session) cannot, and the next run then stops with "Directory
cannot be locked" until the user runs `snakemake --unlock`: Snakemake cannot tell a stale lock
from a live run, nor a dead run from one whose jobs still write. pcgc can, for runs it started.

When a run starts (`onstart`), `record_run` notes beside the lock who holds it: host, boot, process
id, process group and start time of the Snakemake process, its executor, and for SLURM the run's
identifier (the executor plugin names every job it submits after it). When the workflow is parsed
again, `release_if_stale` removes the lock only if all of these hold:

- the lock is the recorded run's (not taken after the record was written, by a run still
  building its DAG), that run was on this host, and its Snakemake process is gone;
- no local job of it is alive: a process of its process group that started after it did. A
  process that started before it (a wrapper script such as `until snakemake ...; do ...; done`)
  or that is this process, one of its ancestors or descendants (the rerun itself, in the same
  group when a script without job control runs it) is not one of its jobs;
- no cluster job of it is queued or running: for SLURM, `squeue` lists none of the jobs named
  after the run. An executor pcgc cannot ask (another cluster's), or a `squeue` that cannot be
  run, keeps the lock, with the reason: a job is never taken for dead on a guess.

Otherwise the lock stays, and the returned message names what keeps it (pids, or SLURM job ids
with the `squeue` and `scancel` commands for them). A lock of another host, a lock without a record
of this format, or the lock of a live run are left alone without a word.

Linux only (processes read from /proc); elsewhere nothing is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORD = "pcgc-run.json"
PROC = Path("/proc")

# The executors whose jobs pcgc can find after their controller died. A run through any other
# non-local executor keeps its lock: pcgc cannot tell whether its jobs still run.
QUERYABLE_EXECUTORS = ("slurm",)

# SLURM job states (squeue's %T) after which a job's processes are gone. Every other state,
# including COMPLETING (processes still being cleaned up), SUSPENDED and any state this list does
# not know, counts as a job that may still write.
FINISHED_STATES = frozenset(
    {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "TIMEOUT"}
)
# One line per job: id, state, name, working directory. `|` appears in none of the first three.
SQUEUE_FORMAT = "%i|%T|%j|%Z"
SQUEUE_TIMEOUT_S = 60


@dataclass(frozen=True)
class Process:
    """What /proc/<pid>/stat says of one process."""

    pid: int
    ppid: int
    pgid: int
    state: str
    started: int  # clock ticks after boot
    command: str


@dataclass(frozen=True)
class ClusterJob:
    """One line of `squeue`."""

    job_id: str  # "123", or "123_4" for an array task
    state: str
    name: str
    workdir: str


class SchedulerUnavailable(RuntimeError):
    """The scheduler could not be asked which jobs are queued or running."""


def parse_stat(pid: int, text: str) -> Process:
    """A /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses, so the
    fields are counted from its closing parenthesis: state ppid pgrp ... starttime (field 22)."""
    command = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return Process(pid=pid, ppid=int(fields[1]), pgid=int(fields[2]), state=fields[0], started=int(fields[19]), command=command)


def read_process(pid: int, proc: Path = PROC) -> Process | None:
    """Process `pid`, or None if it does not exist (or exited while being read)."""
    try:
        return parse_stat(pid, (proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def read_processes(proc: Path = PROC) -> dict[int, Process]:
    """Every process of this host by pid (those that exit while being read are left out)."""
    processes = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            process = read_process(int(entry.name), proc)
            if process is not None:
                processes[process.pid] = process
    return processes


def boot_id(proc: Path = PROC) -> str:
    """This boot's identifier: process ids and start times mean nothing across a reboot."""
    return (proc / "sys/kernel/random/boot_id").read_text().strip()


def lineage(processes: dict[int, Process], pid: int) -> set[int]:
    """`pid`, its ancestors and its descendants: processes of the run that asks, never jobs of a
    killed run (whose orphaned jobs are re-parented away from it)."""
    related = {pid}
    ancestor = processes.get(pid)
    while ancestor is not None and ancestor.ppid not in related and ancestor.ppid > 0:
        related.add(ancestor.ppid)
        ancestor = processes.get(ancestor.ppid)
    children: dict[int, list[int]] = {}
    for process in processes.values():
        children.setdefault(process.ppid, []).append(process.pid)
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        if child not in related:
            related.add(child)
            pending.extend(children.get(child, []))
    return related


def leftover_jobs(processes: dict[int, Process], *, pgid: int, started: int, me: int) -> list[int]:
    """The processes that can be local jobs of a killed run of process group `pgid` that started
    at tick `started`: alive (not zombies), of that group, started after it (a job cannot start in
    the tick its Snakemake started), and not `me` or my lineage."""
    mine = lineage(processes, me)
    return sorted(
        p.pid
        for p in processes.values()
        if p.pgid == pgid and p.state not in ("Z", "X", "x") and p.started > started and p.pid not in mine
    )


def parse_squeue(text: str) -> list[ClusterJob]:
    """`squeue --noheader --format=SQUEUE_FORMAT` output; a line that is not in that format (a
    notice, a cluster header) names no job."""
    jobs = []
    for line in text.splitlines():
        fields = line.strip().split("|", 3)
        if len(fields) == 4 and fields[0] and fields[1]:
            jobs.append(ClusterJob(*fields))
    return jobs


def unfinished_run_jobs(jobs: Iterable[ClusterJob], *, run_id: str | None, workdir: str) -> list[ClusterJob]:
    """The jobs of a run that may still write: those named `run_id` (the SLURM executor names
    every job of a run after the run), or, where the run's identifier is unknown, every job
    working in `workdir`, the run's working directory (a stranger's job there keeps the lock too:
    better than a run's job taken for none). Finished ones are left out."""
    if run_id:
        ours = [job for job in jobs if job.name == run_id]
    else:
        ours = [job for job in jobs if os.path.realpath(job.workdir) == os.path.realpath(workdir)]
    return [job for job in ours if job.state.split()[0] not in FINISHED_STATES]


def query_squeue(*, timeout: float = SQUEUE_TIMEOUT_S) -> list[ClusterJob]:
    """This user's jobs that SLURM still knows, in every state (a suspended job is not listed
    without `--states=all`). Raises SchedulerUnavailable, with the reason, when `squeue` cannot
    be found or run or fails."""
    command = ["squeue", "--noheader", "--states=all", f"--user={os.getuid()}", f"--format={SQUEUE_FORMAT}"]
    executable = shutil.which(command[0])
    if executable is None:
        raise SchedulerUnavailable(f"`squeue` is not on PATH ({os.environ.get('PATH', '')})")
    try:
        result = subprocess.run([executable, *command[1:]], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SchedulerUnavailable(f"`{' '.join(command)}` could not run: {err}") from err
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise SchedulerUnavailable(f"`{' '.join(command)}` failed (exit {result.returncode}){': ' + said[-1] if said else ''}")
    return parse_squeue(result.stdout)


def slurm_run_id(workflow: Any) -> str | None:
    """The identifier the SLURM executor plugin gives a run (and names its jobs after), read from
    the executor that the scheduler of `workflow` (Snakemake's) holds; None for other executors or
    where a plugin version keeps it elsewhere (the working directory then finds the jobs)."""
    executor = getattr(getattr(workflow, "scheduler", None), "_executor", None)
    run_id = getattr(executor, "run_uuid", None)
    return run_id if isinstance(run_id, str) and run_id else None


def record_run(
    state: str | os.PathLike, *, executor: str = "local", cluster: bool = False, run_id: str | None = None
) -> None:
    """Note who holds the lock of `state` (the `.snakemake` folder); from `onstart`, in the
    Snakemake process. `executor` is the executor plugin's name, `cluster` whether its jobs run
    elsewhere than on this host, `run_id` the scheduler's name for this run's jobs."""
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    me = read_process(os.getpid())
    record = {
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "started": me.started if me is not None else 0,
        "workdir": os.getcwd(),
        "executor": executor,
        "cluster": cluster,
        "run_id": run_id,
    }
    temporary = state / f".{RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps(record))
    os.replace(temporary, state / RECORD)


def read_record(path: Path) -> dict[str, Any] | None:
    """The record at `path` if this code wrote it (every key, of its type), else None."""
    types = {
        "host": str, "boot_id": str, "pid": int, "pgid": int, "started": int, "workdir": str,
        "executor": str, "cluster": bool, "run_id": (str, type(None)),
    }
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or any(not isinstance(record.get(key), kind) for key, kind in types.items()):
        return None
    return record


def _lock_newer_than(locks: Path, record_path: Path) -> bool:
    """Whether a lock file was written after the record: the lock then belongs to a later run,
    which has not reached `onstart` yet (it builds its DAG) or was killed before."""
    recorded = record_path.stat().st_mtime_ns
    return any(lock.stat().st_mtime_ns > recorded for lock in locks.iterdir())


def cluster_jobs_note(record: dict[str, Any], query: Callable[[], list[ClusterJob]] = query_squeue) -> str | None:
    """Why a cluster run's lock must stay (its unfinished jobs, or why they cannot be known), or
    None when the scheduler says none of its jobs is left, or the run used no cluster."""
    if not record["cluster"]:
        return None
    executor = record["executor"]
    if executor not in QUERYABLE_EXECUTORS:
        return (
            f"it ran its jobs through the {executor!r} executor, whose scheduler pcgc cannot ask (it asks only "
            f"{', '.join(QUERYABLE_EXECUTORS)}); once none of its jobs runs any more, remove the lock with `snakemake --unlock`"
        )
    try:
        jobs = unfinished_run_jobs(query(), run_id=record["run_id"], workdir=record["workdir"])
    except SchedulerUnavailable as err:
        jobs_are = f"its jobs, named {record['run_id']}," if record["run_id"] else f"its jobs (working in {record['workdir']})"
        return (
            f"it ran its jobs through SLURM and the scheduler cannot be asked whether they still run ({err}); once none of "
            f"{jobs_are} is queued or running any more, remove the lock with `snakemake --unlock`"
        )
    if not jobs:
        return None
    ids = [job.job_id for job in jobs]
    return (
        f"its SLURM jobs are still queued or running: {', '.join(f'{job.job_id} ({job.state})' for job in jobs)}; wait for "
        f"them to end (`squeue -j {','.join(ids)}` lists them until they have) or cancel them (`scancel {' '.join(ids)}`), "
        "then run again"
    )


def release_if_stale(
    state: str | os.PathLike, *, proc: Path = PROC, query: Callable[[], list[ClusterJob]] = query_squeue
) -> str | None:
    """Remove the lock of `state` if nothing the run that took it started can still write; returns
    what was done or why the lock stays, for the log, or None when there was nothing to do.
    `proc` and `query` (the scheduler's unfinished jobs) are there for tests."""
    state = Path(state)
    locks, record_path = state / "locks", state / RECORD
    if not locks.is_dir() or not any(locks.iterdir()) or not (proc / "self/stat").exists():
        return None
    record = read_record(record_path)
    if record is None or record["host"] != socket.gethostname() or _lock_newer_than(locks, record_path):
        return None  # not a record of this lock written by this code on this host: the user's business
    pid, pgid, host = record["pid"], record["pgid"], record["host"]
    same_boot = record["boot_id"] == boot_id(proc)
    if same_boot:
        run = read_process(pid, proc)
        if run is not None and run.started == record["started"] and run.state not in ("Z", "X", "x"):
            return None  # the run is alive: its lock is no business of ours
        processes = read_processes(proc)
        local = leftover_jobs(processes, pgid=pgid, started=record["started"], me=os.getpid())
        if local:
            return (
                f"the lock of a killed Snakemake run (pid {pid} on {host}) stays: jobs it started still run "
                f"(pids {', '.join(map(str, local))}); wait for them or kill them, then run again"
            )
    cluster = cluster_jobs_note(record, query)
    if cluster:
        return f"the lock of a killed Snakemake run (pid {pid} on {host}) stays: {cluster}"
    shutil.rmtree(locks)
    record_path.unlink(missing_ok=True)
    where = f"; none of its {record['executor']} jobs is queued or running" if record["cluster"] else ""
    return (
        f"removed the lock of a killed Snakemake run (pid {pid} on {host}; no job it started is alive in its process "
        f"group {pgid}{where}): its jobs resume where they stopped"
    )
