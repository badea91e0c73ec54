"""Killing a test's subprocess at the moment the test needs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable


def sigkill_when(
    process: subprocess.Popen, ready: Callable[[], bool], *, what: str, timeout: float = 300, group: bool = False
) -> None:
    """SIGKILL `process` (its whole process group with `group`) as soon as `ready()` holds; fail if
    it ends first (`what` names it) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, f"{what} ended before it could be killed"
            assert time.monotonic() < deadline, f"{what}: not ready to be killed after {timeout} s"
            time.sleep(0.001)
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (processes that exit meanwhile are left out)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def children_of(pid: int) -> list[int]:
    """The processes `pid` started that still run (or are zombies)."""
    return sorted(_children().get(pid, []))


def sigkill_tree(pid: int) -> list[int]:
    """SIGKILL process `pid` and every process it started (its descendants), and nothing else: as
    Snakemake dies with its jobs while the script that ran it lives on. The tree is stopped first
    (SIGSTOP, until no new process appears), so that no process in it reacts to another's death;
    returns the pids killed."""
    tree: list[int] = []
    while True:
        children, found, pending = _children(), [], [pid]
        while pending:
            current = pending.pop()
            found.append(current)
            pending.extend(children.get(current, []))
        new = [p for p in found if p not in tree]
        if not new:
            break
        for process in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGSTOP)
        tree.extend(new)
    for process in reversed(tree):
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGKILL)
    return tree
