"""A worker process that decodes and maps large OTLP batches away from the server's GIL.

Decoding and mapping a 512-span export is ~20 ms of pure Python. Run in the server's threadpool,
it holds the GIL against the event loop that answers prompt reads, and their p99 latency grows
several-fold while an SDK is exporting. In a child process it costs the server only the pickled
rows (about a millisecond); the SQLite write stays in the server process. Small bodies, where the
round trip would cost more than the work, are still handled in the threadpool.

The child is a plain ``python -m local_langfuse.ingest_worker`` speaking length-prefixed pickles
over its stdin and stdout, not a ``multiprocessing`` pool: those re-import the parent's
``__main__`` in the child, which for a script or a Streamlit page means running it again.
It exits when its stdin closes, so it never outlives the server, even one killed with ``-9``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TypeVar, cast

from starlette.concurrency import run_in_threadpool

from local_langfuse.errors import ApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Bodies (as received, compressed or not) from this size go to the worker process: about 100
# SDK spans gzipped or 5 plain ones. Below it the work is shorter than the process round trip.
OFFLOAD_MIN_BYTES = 4096


class WorkerDiedError(ApiError):
    """The worker process exited or its pipe broke while it held a job.

    The job is not run again in the server process: whatever killed the worker (most likely
    the memory a hostile body takes) would then hit the server. The client gets a 503 and
    may retry; the next job starts a fresh worker.
    """

    status_code = 503
    error = "ServiceUnavailableError"


class _PoolClosedError(Exception):
    pass


class IngestPool:
    """Runs picklable jobs in one lazily started worker process; :meth:`close` ends it.

    Jobs take turns (one worker, one job at a time). If the worker dies (killed, out of memory),
    the job fails with :class:`WorkerDiedError` (never re-run here, where it could take the
    server down with it) and the next one starts a fresh worker. After :meth:`close`, jobs run
    in the threadpool.
    """

    def __init__(self, min_body_bytes: int = OFFLOAD_MIN_BYTES) -> None:
        self.min_body_bytes = min_body_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one job in the worker at a time
        self._closed = False

    def wants(self, body: bytes) -> bool:
        """Whether a body is big enough to be worth the process round trip."""
        return len(body) >= self.min_body_bytes and not self._closed

    def _start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        return subprocess.Popen(
            [sys.executable, "-m", "local_langfuse.ingest_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def _in_worker(self, job: Callable[[], T]) -> T:
        with self._lock:
            if self._closed:
                raise _PoolClosedError
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
            # Imported here, not at module level: the package's import chain must not load
            # the worker module, or `python -m local_langfuse.ingest_worker` warns on start.
            from local_langfuse import ingest_worker as wire

            assert process.stdin is not None
            assert process.stdout is not None
            try:
                wire.send(process.stdin, job)
                ok, value = wire.receive(process.stdout)
            except (EOFError, OSError, ValueError) as exc:  # ValueError: closed meanwhile
                process.kill()
                process.wait()
                self._process = None
                raise WorkerDiedError(
                    f"The ingestion worker process died (exit code {process.returncode}) "
                    "while it handled this request; nothing of it was stored. Retry it, "
                    "in smaller batches if it is large."
                ) from exc
        if not ok:
            raise cast(BaseException, value)
        return cast(T, value)

    def _run(self, job: Callable[[], T]) -> T:
        try:
            return self._in_worker(job)
        except _PoolClosedError:
            return job()  # the app is shutting down: no worker to protect the server with
        except WorkerDiedError as exc:
            logger.warning("%s The next request starts a new worker.", exc.message)
            raise

    async def run(self, job: Callable[[], T]) -> T:
        """``job()`` in the worker process (``job`` must pickle), else in the threadpool."""
        return await run_in_threadpool(self._run, job)

    def close(self) -> None:
        """Stop the worker process (if one was started); later jobs run in the threadpool."""
        self._closed = True
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.close()  # the worker exits at end of input
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
