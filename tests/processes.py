"""Killing a test's subprocess at the moment the test needs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Callable


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
