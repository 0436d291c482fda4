"""The worker process that decodes and maps large OTLP exports: results, errors, death, close."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import signal
from collections.abc import Iterator
from functools import partial

import pytest

from local_langfuse.errors import BadRequestError
from local_langfuse.ingest import decode_and_map
from local_langfuse.ingest_pool import IngestPool, WorkerDiedError


@pytest.fixture(scope="module")
def pool() -> Iterator[IngestPool]:
    ingest_pool = IngestPool(min_body_bytes=100)
    yield ingest_pool
    ingest_pool.close()


def test_only_bodies_from_the_threshold_are_offloaded(pool: IngestPool) -> None:
    assert not pool.wants(b"x" * 99)
    assert pool.wants(b"x" * 100)


def test_a_job_runs_in_another_process(pool: IngestPool) -> None:
    assert asyncio.run(pool.run(os.getpid)) != os.getpid()


def test_an_api_error_in_the_worker_reaches_the_caller_as_itself(pool: IngestPool) -> None:
    job = partial(decode_and_map, gzip.compress(b"\x0a\xff\xff garbage"), "gzip", None, 10**6, "t")
    with pytest.raises(BadRequestError, match="not a valid OTLP ExportTraceServiceRequest"):
        asyncio.run(pool.run(job))


def test_a_dead_worker_is_replaced(pool: IngestPool) -> None:
    worker = asyncio.run(pool.run(os.getpid))
    os.kill(worker, signal.SIGKILL)
    # The next jobs start a new worker (the job that found the worker dead may fail).
    with contextlib.suppress(WorkerDiedError):
        asyncio.run(pool.run(os.getpid))
    pids = {asyncio.run(pool.run(os.getpid)) for _ in range(3)}
    assert worker not in pids
    assert os.getpid() not in pids, "a job ran in the server process"


def test_a_job_that_kills_its_worker_is_not_run_again_in_the_server(pool: IngestPool) -> None:
    """Whatever killed the worker (say, a body that takes all memory) would kill the server.

    If the pool ran the job again here, ``os._exit`` would end this test process.
    """
    with pytest.raises(WorkerDiedError, match="exit code 3") as caught:
        asyncio.run(pool.run(partial(os._exit, 3)))
    assert caught.value.status_code == 503
    assert asyncio.run(pool.run(os.getpid)) != os.getpid()


def test_after_close_jobs_run_in_the_threadpool() -> None:
    closed = IngestPool(min_body_bytes=1)
    closed.close()
    assert not closed.wants(b"body")
    assert asyncio.run(closed.run(os.getpid)) == os.getpid()
