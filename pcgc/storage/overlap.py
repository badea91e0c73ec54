"""Writing one batch's results while the next batch is computed.

A job that computes a batch, copies it to the host and writes it, one after the other, leaves
the accelerator idle while it copies and writes. Here the two overlap:

* `HostCopy` starts the device-to-host copies of a batch's tensors without waiting for them: on
  CUDA into page-locked (pinned) host memory with `non_blocking=True`, which is what lets a copy
  run while the device goes on with the next batch's kernels; an event recorded after the copies
  says when they are done. On the CPU there is nothing to copy.
* `BackgroundWriter` runs the writing (`HostCopy.arrays`, which waits for that event, then the
  files) in one worker thread, in submission order, while the caller's thread computes. At most
  `pending` batches wait to be written, so host memory stays bounded; a failed write is raised in
  the caller's thread (at its next `submit`, or when the block ends) with its own exception, so a
  full disk still names the output (`pcgc.storage.atomic`).

HDF5 calls from the two threads are serialised by h5py's lock; the worker is the only thread that
touches the output file until the block ends. `threaded=False` is the plain path: each write runs
at once in the caller's thread (the tests compare the two).
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Callable, Mapping

import numpy as np
import torch

log = logging.getLogger(__name__)


class HostCopy:
    """A batch's tensors on their way to host memory."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        self._host: dict[str, torch.Tensor] = {}
        self._done: torch.cuda.Event | None = None
        for name, tensor in tensors.items():
            tensor = tensor.detach()
            if tensor.device.type == "cuda":
                host = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
                host.copy_(tensor, non_blocking=True)
                self._host[name] = host
                if self._done is None:
                    self._done = torch.cuda.Event()
            else:
                self._host[name] = tensor.cpu()
        if self._done is not None:
            self._done.record()

    def arrays(self) -> dict[str, np.ndarray]:
        """The tensors as numpy arrays, once their copies are complete."""
        if self._done is not None:
            self._done.synchronize()
        return {name: host.numpy() for name, host in self._host.items()}


class BackgroundWriter:
    """Runs write jobs one after another in a worker thread (or at once, `threaded=False`).

    Use as a context manager: leaving the block waits for every job, and raises the first failure;
    leaving it with an exception still waits for the jobs already submitted (they write into files
    the caller is about to remove), then lets the exception through.
    """

    def __init__(self, *, threaded: bool = True, pending: int = 2) -> None:
        if pending < 1:
            raise ValueError(f"pending must be >= 1, got {pending}")
        self.threaded = threaded
        self.pending = pending
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: deque[Future] = deque()

    def __enter__(self) -> "BackgroundWriter":
        if self.threaded:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pcgc-writer")
        return self

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Queue `job(*args)`; waits while `pending` jobs are queued. Raises an earlier job's failure."""
        if self._executor is None:
            if self.threaded:
                raise RuntimeError("BackgroundWriter.submit outside its `with` block")
            job(*args)
            return
        while self._jobs and (len(self._jobs) >= self.pending or self._jobs[0].done()):
            self._jobs.popleft().result()
        self._jobs.append(self._executor.submit(job, *args))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._executor is None:
            return
        try:
            while self._jobs:
                job = self._jobs.popleft()
                if error is None:
                    job.result()
                elif (failure := job.exception()) is not None:
                    log.error("a write failed while the job was already failing: %s", failure)
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
