"""The worker process that decodes and maps large OTLP exports: results, errors, death, close."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
from collections.abc import Iterator
from functools import partial

import pytest

from local_langfuse.errors import BadRequestError
from local_langfuse.ingest import decode_and_map
from local_langfuse.ingest_pool import IngestPool


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


def test_a_dead_worker_costs_no_job_and_is_replaced(pool: IngestPool) -> None:
    worker = asyncio.run(pool.run(os.getpid))
    os.kill(worker, signal.SIGKILL)
    # The job after the death still runs: in this process, or in a fresh worker ...
    assert asyncio.run(pool.run(os.getpid)) != worker
    # ... and later ones run in a new worker.
    pids = {asyncio.run(pool.run(os.getpid)) for _ in range(3)}
    assert worker not in pids
    assert pids - {os.getpid()}, "no new worker process was started"


def test_after_close_jobs_run_in_the_threadpool() -> None:
    closed = IngestPool(min_body_bytes=1)
    closed.close()
    assert not closed.wants(b"body")
    assert asyncio.run(closed.run(os.getpid)) == os.getpid()
