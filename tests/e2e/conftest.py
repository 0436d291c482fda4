"""Browser-test fixtures: the real app under ``streamlit run`` on embedded defaults (local
Langfuse in a temp data dir), the fake OpenAI server in its own process, and Debian's chromium.

``start_app(**env)`` starts an app with another environment (say, none at all: the embedded
local model); ``app`` is the one most tests share, with the fake OpenAI server as its LLM. The
servers are subprocesses stopped at the end of the session, also when a test fails. Nothing is
downloaded: the browser is ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
START_TIMEOUT_S = 60.0
TIMEOUT_MS = 30_000  # what ``expect`` and each page action wait for, unless a test says more
FAKE_OPENAI_KEY = "sk-fake-e2e"
SECRETS = ("sk-lf-local", FAKE_OPENAI_KEY)  # never in a page's HTML
VIEWPORT = {"width": 1400, "height": 2000}  # tall: a screenshot shows the whole page


@dataclass
class App:
    """The running app: where the browser goes, and where its data lives."""

    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    log_path: Path

    def stop(self) -> None:
        _stop(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_", "STREAMLIT_"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("*.png"):  # the folder shows the last run only
        stale.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def fake_llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake OpenAI server in its own process; yields its base URL (``.../v1``)."""
    log = tmp_path_factory.mktemp("fake-openai") / "stderr.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_openai", "--port", "0"],
            cwd=ROOT,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until READY (or EOF if it died)
        match = re.match(r"READY (\S+)", line)
        if not match:
            raise RuntimeError(f"fake OpenAI server did not start: {line!r}\n{log.read_text()}")
        yield match.group(1)
    finally:
        _stop(process)


AppFactory = Callable[..., App]


@pytest.fixture(scope="session")
def start_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppFactory]:
    """A factory: ``start_app(**env_extra)`` runs ``streamlit run app.py`` headless on a free
    port (or ``port``, with more ``args`` for ``streamlit run``) with a temp data dir and
    ``env_extra`` on top of a clean environment (no LANGFUSE_*, OPENAI_*, PLAYGROUND_*,
    STREAMLIT_*), so without extras it runs on embedded defaults: local Langfuse and the local
    model. Every app it started is stopped at the end of the session.
    """
    started: list[App] = []

    def start(*, port: int | None = None, args: Sequence[str] = (), **env_extra: str) -> App:
        data_dir = tmp_path_factory.mktemp("playground-data")
        log_path = data_dir.parent / f"{data_dir.name}-streamlit.log"
        port = port or free_port()
        env = clean_env(PLAYGROUND_DATA_DIR=str(data_dir), **env_extra)
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
            *args,
        ]
        with log_path.open("w") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
            )
        running = App(f"http://127.0.0.1:{port}", data_dir, process, log_path)
        started.append(running)
        _wait_healthy(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            running.stop()


@pytest.fixture(scope="session")
def start_fake_app(start_app: AppFactory, fake_llm_url: str) -> AppFactory:
    """``start_app`` with the fake OpenAI server as the LLM (4 calls in flight); ``env_extra``
    adds to that or overrides it."""

    def start(**env_extra: str) -> App:
        env = {
            "OPENAI_BASE_URL": fake_llm_url,
            "OPENAI_API_KEY": FAKE_OPENAI_KEY,
            "PLAYGROUND_MODEL": "fake-model",
            "PLAYGROUND_CONCURRENCY": "4",
        }
        return start_app(**(env | env_extra))

    return start


@pytest.fixture(scope="session")
def app(start_fake_app: AppFactory) -> App:
    """The app on embedded Langfuse with the fake OpenAI server as its LLM."""
    return start_fake_app()


def _wait_healthy(app: App) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if app.process.poll() is not None:
                raise RuntimeError(f"streamlit exited ({app.process.returncode}):\n{app.log()}")
            try:
                if client.get(f"{app.url}/_stcore/health").text.strip() == "ok":
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"streamlit was not healthy within {START_TIMEOUT_S} s:\n{app.log()}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Remember each phase's report on the item, so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def open_page(
    browser: Any, app: App, artifacts: Path, request: pytest.FixtureRequest, timeout_ms: int
) -> Iterator[Any]:
    """A fresh browser context; on failure, a screenshot and the app's log tail."""
    from playwright.sync_api import expect

    expect.set_options(timeout=timeout_ms)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(timeout_ms)
    opened = context.new_page()
    try:
        yield opened
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            opened.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"))
            print(f"--- streamlit log (tail) ---\n{app.log()[-4000:]}")
        context.close()


@pytest.fixture
def page_app(app: App) -> App:
    """The app ``page`` opens: the shared one; a module with an app of its own overrides this."""
    return app


@pytest.fixture
def page(
    browser: Any, page_app: App, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """A fresh page (its own browser context) on ``page_app``."""
    with open_page(browser, page_app, artifacts, request, TIMEOUT_MS) as opened:
        yield opened


def shot(page: Any, artifacts: Path, name: str, *, full_page: bool = False) -> None:
    """A screenshot for people to look at (never compared)."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)


def assert_clean(page: Any) -> None:
    """What must never happen on any page: an exception box, a traceback, a secret in the HTML."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)
    html = page.content()
    for secret in SECRETS:
        assert secret not in html, f"secret {secret[:5]}… rendered in the page"


def wait_for_app_run(page: Any) -> None:
    """Until the script run a click started has finished (Streamlit marks its root element with
    the script state). Widgets re-rendered by that run are replaced in the DOM meanwhile, so a
    test acting before it ends can grab an element that is about to be detached."""
    page.wait_for_timeout(250)  # the click's rerun request reaches the server first
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for()


def select_tab(page: Any, name: str) -> Any:
    """Click a tab and wait for it to be selected and for the rerun a keyed tab set makes."""
    from playwright.sync_api import expect

    tab = page.get_by_role("tab", name=name)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_for_app_run(page)
    return tab
