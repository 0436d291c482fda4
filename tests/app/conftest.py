"""App tests run the real app (AppTest) against real services: the embedded local-langfuse
(keys pk-lf-local, never the session's pk-lf-test client), a temp data dir, and the fake
OpenAI server over HTTP — no local model needed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_openai import FakeOpenAIServer

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def app_env(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeOpenAIServer) -> Iterator[Path]:
    """Environment for the app's Settings(); services are built once and closed at the end."""
    data_dir = tmp_path_factory.mktemp("playground-data")
    env = {
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "sk-fake",
        "PLAYGROUND_MODEL": "fake-model",
        "PLAYGROUND_CONCURRENCY": "4",
    }
    removed = {
        k: os.environ.pop(k)
        for k in (
            "LANGFUSE_BASE_URL",
            "LANGFUSE_HOST",
            "LANGFUSE_PUBLIC_KEY",
            "LANGFUSE_SECRET_KEY",
        )
        if k in os.environ
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from prompt_playground.ui.services import reset_services

    reset_services()
    yield data_dir
    reset_services()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    os.environ.update(removed)


@pytest.fixture(scope="session")
def services(app_env: Path):  # type: ignore[no-untyped-def]
    """The same cached services the app uses (built by the first call)."""
    from prompt_playground.ui.services import _services

    return _services()
