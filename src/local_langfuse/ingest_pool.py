"""A one-process pool that decodes and maps large OTLP batches away from the server's GIL.

Decoding and mapping a 512-span export is ~20 ms of pure Python. Run in the server's threadpool,
it holds the GIL against the event loop that answers prompt reads, and their p99 latency grows
several-fold while an SDK is exporting. In a child process it costs the server only the pickled
rows (about a millisecond); the SQLite write stays in the server process. Small bodies, where the
round trip would cost more than the work, are still handled in the threadpool.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bodies (as received, compressed or not) from this size go to the worker process: about 100
# SDK spans gzipped or 5 plain ones. Below it the work is shorter than the process round trip.
OFFLOAD_MIN_BYTES = 4096


def _exit_with_parent() -> None:
    """Worker initializer: exit when the server process dies (even by ``kill -9``).

    A pool worker holds both ends of its task queue, so it would otherwise wait forever for
    work from a parent that is gone.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class IngestPool:
    """Runs picklable jobs in one lazily spawned worker process; :meth:`close` ends it.

    If the worker dies (killed, out of memory), the job runs in the threadpool instead and the
    next one starts a fresh worker, so ingestion never fails because of the pool.
    """

    def __init__(self, min_body_bytes: int = OFFLOAD_MIN_BYTES) -> None:
        self.min_body_bytes = min_body_bytes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def wants(self, body: bytes) -> bool:
        """Whether a body is big enough to be worth the process round trip."""
        return len(body) >= self.min_body_bytes and not self._closed

    def _get_executor(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._closed:
                return None
            if self._executor is None:
                # spawn, not fork: the server process has threads (uvicorn, the threadpool).
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with_parent,
                )
            return self._executor

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, job: Callable[[], T]) -> T:
        """``job()`` in the worker process (``job`` must pickle), else in the threadpool."""
        executor = self._get_executor()
        if executor is not None:
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, job)
            except BrokenProcessPool:
                logger.warning("The OTLP ingestion worker process died; starting a new one.")
                self._discard(executor)
        return await run_in_threadpool(job)

    def close(self) -> None:
        """Stop the worker process (if one was started); later jobs run in the threadpool."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
