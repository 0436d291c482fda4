"""Shared fixtures: one local-langfuse server and one SDK client for the whole session.

The langfuse SDK keeps one resource manager per public key (and disables ``get_client()`` when
several keys exist), so tests share a server and isolate themselves with unique names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.db import dispose_engine
from tests.support.postgres import Backend, PostgresCluster, postgres_cluster
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, start_local_langfuse


@pytest.fixture(scope="session")
def lf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLangfuseServer]:
    db_path: Path = tmp_path_factory.mktemp("local-langfuse") / "langfuse.sqlite3"
    server = start_local_langfuse(db_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def langfuse(lf_server: LocalLangfuseServer) -> Iterator[Langfuse]:
    client = Langfuse(
        public_key=PUBLIC_KEY,
        secret_key=SECRET_KEY,
        base_url=lf_server.base_url,
        flush_at=512,
        flush_interval=0.5,
    )
    yield client
    client.flush()
    client.shutdown()


@pytest.fixture
def api(lf_server: LocalLangfuseServer) -> Iterator[httpx.Client]:
    """Raw HTTP with valid auth, for status codes and bodies the SDK hides."""
    with httpx.Client(base_url=lf_server.base_url, auth=(PUBLIC_KEY, SECRET_KEY)) as client:
        yield client


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the session (each test takes a new database)."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Run the test on both storage backends."""
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path / "nested")
        return
    url = request.getfixturevalue("postgres").new_database()
    yield Backend("postgresql", tmp_path, url)
    dispose_engine(url)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names in the shared server."""
    return uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last.

    Playwright's sync API keeps an event loop running in the main thread while a browser is
    open, and ``asyncio.run`` refuses to start inside it; ordering keeps the suite independent
    of fixture scopes. The sort is stable, so the order within each group is kept.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
