"""App tests run the real app (AppTest) against real services: local-langfuse over HTTP, a temp
data dir, and the fake OpenAI server over HTTP — no local model needed.

The app talks to the session's local-langfuse as a *remote* Langfuse with the session's keys: the
langfuse SDK keeps one client per public key per process and disables its default client when
there are two, so a second key here would silently switch off tracing for the other tests. The
embedded start-up itself is covered by the CLI tests and the browser test (own processes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_langfuse import LocalLangfuseServer
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.servers import PUBLIC_KEY, SECRET_KEY

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def app_env(
    tmp_path_factory: pytest.TempPathFactory,
    fake_llm: FakeOpenAIServer,
    lf_server: LocalLangfuseServer,
) -> Iterator[Path]:
    """Environment for the app's Settings(); services are built once and closed at the end."""
    data_dir = tmp_path_factory.mktemp("playground-data")
    env = {
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_API_KEY": "sk-fake",
        "PLAYGROUND_MODEL": "fake-model",
        "PLAYGROUND_CONCURRENCY": "4",
        "LANGFUSE_BASE_URL": lf_server.base_url,
        "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": SECRET_KEY,
    }
    removed = {k: os.environ.pop(k) for k in ("LANGFUSE_HOST",) if k in os.environ}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from prompt_playground.bootstrap import seed_examples
    from prompt_playground.ui.services import _services, reset_services

    reset_services()
    # A remote Langfuse is never seeded by the app; the tests want the example prompt there.
    seed_examples(_services().prompts)
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
