"""A Snakemake lock left by a killed run, removed when nothing of that run is alive any more.

Snakemake locks the working directory while it runs and removes the lock when it exits. A run
killed with SIGKILL (or a lost login session) cannot, and the next run then stops with "Directory
cannot be locked" until the user runs `snakemake --unlock`: Snakemake cannot tell a stale lock
from a live run. pcgc can, for runs it started: when a run starts (`onstart`), `record_run` notes
the host, the process id and the process group of the Snakemake process beside the lock; when the
workflow is parsed again, `release_if_stale` removes the lock if that host is this one and no
process of that group is alive (neither Snakemake nor any job it had started: a job still running
keeps the lock, so that no second job writes the same output). A lock of another host, a lock
without a record, or a record of a live group stay where they are.

Linux only (process groups read from /proc); elsewhere nothing is removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

RECORD = "pcgc-run.json"


def _locks(state: Path) -> Path:
    return state / "locks"


def record_run(state: str | os.PathLike) -> None:
    """Note which process holds the lock of `state` (the `.snakemake` folder); from `onstart`."""
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    record = {"host": socket.gethostname(), "pid": os.getpid(), "pgid": os.getpgid(0)}
    temporary = state / f".{RECORD}.{os.getpid()}"
    temporary.write_text(json.dumps(record))
    os.replace(temporary, state / RECORD)


def _group_alive(pgid: int, proc: Path = Path("/proc")) -> list[int]:
    """Processes of process group `pgid` (this one included: a run started in the same group as
    the killed one, by a script without job control, leaves its lock alone)."""
    alive = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile, or not ours to read
            continue
        # Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(entry.name))
    return alive


def release_if_stale(state: str | os.PathLike) -> str | None:
    """Remove the lock of `state` if the run that took it is dead; returns what was done, for the
    log, or None when there was nothing to do."""
    state = Path(state)
    locks, record_path = _locks(state), state / RECORD
    if not locks.is_dir() or not any(locks.iterdir()) or not record_path.is_file() or not Path("/proc/self/stat").exists():
        return None
    try:
        record = json.loads(record_path.read_text())
        host, pid, pgid = record["host"], int(record["pid"]), int(record["pgid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a record this code wrote: leave the lock to the user
    if host != socket.gethostname():
        return None
    alive = _group_alive(pgid)
    if alive:
        if pid in alive:
            return None  # the run is alive: its lock is no business of ours
        return (
            f"the lock of a killed Snakemake run (pid {pid} on {host}) stays: jobs it started still run "
            f"(pids {', '.join(map(str, sorted(alive)))}); wait for them or kill them, then run again"
        )
    shutil.rmtree(locks)
    record_path.unlink(missing_ok=True)
    return (
        f"removed the lock of a killed Snakemake run (pid {pid} on {host}; nothing of its process group "
        f"{pgid} is alive): its jobs resume where they stopped"
    )
