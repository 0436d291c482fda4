"""A team deployment in small: two app replicas (two ``streamlit run`` processes) sharing one
PostgreSQL store and one Langfuse. A comparison started on replica A's Compare page shows up,
with its progress moving, on replica B's Runs page, without B reloading.

The model is the fake OpenAI server with a fixed latency, so the run lasts long enough (about
ten seconds at concurrency 2) for B to show it while it is going.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prompt_playground.db import dispose_engine
from prompt_playground.runstore import RunStore
from tests.e2e.conftest import ROOT, App, AppFactory, _stop, clean_env, open_page
from tests.support.postgres import PostgresCluster
from tests.support.servers import cli_command, free_port

pytestmark = pytest.mark.e2e

PROMPT_FILE = ROOT / "src" / "prompt_playground" / "examples" / "chat_extract_feedback.yaml"
SAMPLES = ROOT / "src" / "prompt_playground" / "examples" / "sample_chats.csv"
SAMPLE_COUNT = 21
CALLS = 2 * SAMPLE_COUNT
LATENCY_MS = 450
TIMEOUT_MS = 60_000
DB_PASSWORD = "team-db-secret"
KEYS = {"LANGFUSE_PUBLIC_KEY": "pk-lf-local", "LANGFUSE_SECRET_KEY": "sk-lf-local"}


@pytest.fixture(scope="module")
def shared_langfuse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One local-langfuse both replicas use (as a team shares its Langfuse), with the example
    prompt synced into it (v1 production, v2 staging)."""
    folder = tmp_path_factory.mktemp("team-langfuse")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*cli_command(), "local-langfuse", "--port", str(port), "--db", str(folder / "lf.db")],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "local-langfuse exited"
            try:
                if httpx.get(f"{base_url}/api/public/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "local-langfuse did not start"
            time.sleep(0.2)
        synced = subprocess.run(
            [*cli_command(), "sync", str(PROMPT_FILE)],
            env=clean_env(LANGFUSE_BASE_URL=base_url, **KEYS),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert synced.returncode == 0, synced.stderr
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def slow_llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    command = [sys.executable, "-m", "tests.support.fake_openai", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--latency-ms", str(LATENCY_MS), "--no-history"],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"READY (\S+)", line)
        assert match, f"fake OpenAI server did not start: {line!r}"
        yield match.group(1)
    finally:
        _stop(process)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def replicas(
    start_app: AppFactory, postgres: PostgresCluster, shared_langfuse: str, slow_llm_url: str
) -> Iterator[tuple[App, App, str]]:
    """Two app processes on one new PostgreSQL database; yields them and its URL."""
    # The cluster trusts local connections: the password is ignored, and must never be shown.
    url = postgres.new_database().replace("postgres@", f"postgres:{DB_PASSWORD}@")
    env = {
        "PLAYGROUND_DATABASE_URL": url,
        "LANGFUSE_BASE_URL": shared_langfuse,
        **KEYS,
        "OPENAI_BASE_URL": slow_llm_url,
        "OPENAI_API_KEY": "sk-fake-team",
        "PLAYGROUND_MODEL": "fake-model",
        "PLAYGROUND_CONCURRENCY": "2",
    }
    yield start_app(**env), start_app(**env), url
    dispose_engine(url)


@pytest.fixture
def page_a(
    browser: Any, replicas: tuple[App, App, str], artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    with open_page(browser, replicas[0], artifacts, request, TIMEOUT_MS) as opened:
        yield opened


@pytest.fixture
def page_b(
    browser: Any, replicas: tuple[App, App, str], artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    with open_page(browser, replicas[1], artifacts, request, TIMEOUT_MS) as opened:
        yield opened
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            opened.screenshot(path=str(artifacts / "FAILED-team-replica-b.png"))


def test_a_run_started_on_one_replica_shows_live_progress_on_another(
    replicas: tuple[App, App, str], page_a: Any, page_b: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    replica_a, replica_b, url = replicas
    page_b.goto(replica_b.url)
    page_b.get_by_role("link", name="Runs").click()
    expect(page_b.get_by_text("No runs yet. Start one on the Compare page.")).to_be_visible()

    page_a.goto(replica_a.url)
    expect(page_a.get_by_role("heading", name="Compare prompt versions")).to_be_visible()
    page_a.locator(".st-key-compare-upload input[type=file]").set_input_files(SAMPLES)
    expect(
        page_a.get_by_text(f"Pre-flight OK: {SAMPLE_COUNT} of {SAMPLE_COUNT} rows runnable")
    ).to_be_visible()
    variants = page_a.get_by_role("combobox", name="Labels / versions to compare")
    page_a.locator(".st-key-compare-variants").get_by_role("button", name="Clear all").click()
    for label in ("production", "staging"):
        variants.click()
        page_a.get_by_role("option", name=label, exact=True).click()
    page_a.keyboard.press("Escape")
    page_a.get_by_role("button", name="Run comparison").click()
    expect(page_a.get_by_text(re.compile(rf"\d+/{CALLS} done"))).to_be_visible()

    # Replica B learns of the run only through the database; its page is not reloaded.
    table = page_b.get_by_test_id("stDataFrame")  # the only table on the Runs page
    cells = table.locator("[role=gridcell]")
    expect(cells.filter(has_text=re.compile(r"^running$"))).to_have_count(1)
    partial = re.compile(rf"^([1-9]|[1-3][0-9]|4[01])/{CALLS}$")  # 1..41 of 42
    expect(cells.filter(has_text=partial)).to_have_count(1)
    first = cells.filter(has_text=partial).inner_text()
    page_b.screenshot(path=str(artifacts / "team-01-replica-b-live.png"))
    expect(cells.filter(has_text=f"{CALLS}/{CALLS}")).to_have_count(1)
    expect(cells.filter(has_text=re.compile(r"^completed$"))).to_have_count(1)
    page_b.screenshot(path=str(artifacts / "team-02-replica-b-done.png"))
    expect(page_a.get_by_text(f"{CALLS}/{CALLS} done · 0 errors")).to_be_visible()
    expect(page_b.get_by_test_id("stException")).to_have_count(0)
    expect(page_b.get_by_text("shared by every replica and CLI run")).to_be_visible()
    # (the sidebar puts a word joiner after "@" so the URL is not turned into a link)
    expect(page_b.get_by_text(re.compile(r"postgres:\*\*\*@\W?127\.0\.0\.1"))).to_be_visible()
    for html in (page_a.content(), page_b.content()):
        assert "sk-fake-team" not in html
        assert DB_PASSWORD not in html
    for replica in (replica_a, replica_b):
        assert DB_PASSWORD not in replica.log()

    # What B showed is the one run A started, read from the shared store.
    [run] = RunStore(url).list_runs()
    assert (run.status, run.done, run.total) == ("completed", CALLS, CALLS)
    assert run.host, "the run names the host that runs it"
    assert int(first.split("/")[0]) < CALLS
