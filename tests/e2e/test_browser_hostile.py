"""Hostile text in real chromium: what a shared Langfuse project or a model writes (commit
messages, outputs, errors, file names) is shown as plain text, never rendered as Markdown; the
download buttons deliver the stored run; no page, nor the start-up error box, shows a secret.

The app here talks to the test session's local-langfuse as a *remote* Langfuse, so the test
can write hostile prompt versions into it through the SDK.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.models import Result, Sample
from prompt_playground.prompts import LangfusePromptStore
from prompt_playground.runstore import RunRecord, RunStore
from tests.e2e.conftest import App, AppFactory, open_page, select_tab, wait_for_app_run
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, free_port

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
RUN_TIMEOUT_MS = 120_000  # a call through the worker, on a machine shared with other tests
IMAGE = "![x](http://127.0.0.1:9/x.png)"
LINK = "[click](javascript:alert(1))"
PAYLOAD = f"{IMAGE} {LINK}"
# The same two as a regular expression (character classes and groups): the fake model cannot
# match it, so the validation error quotes it, and the error carries the payload too.
PATTERN = f"^{IMAGE} {LINK}zz$"
PROMPT = "hostile-md"
RUN_ID = "run-hostile-1"
OPENAI_KEY = "sk-fake-e2e-hostile"
SECRETS = (SECRET_KEY, OPENAI_KEY)


def shown(text: str) -> str:
    """The text as the page shows it: bare URLs carry an invisible word joiner (U+2060)."""
    return text.replace("://", "\u2060://")


def schema(label: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"label": label}, "required": ["label"]}


@pytest.fixture(scope="module")
def hostile_app(
    start_app: AppFactory, fake_llm_url: str, langfuse: Langfuse, lf_server: LocalLangfuseServer
) -> App:
    prompts = LangfusePromptStore(langfuse, base_url=lf_server.base_url)
    messages = [
        {"role": "system", "content": "Label the text."},
        {"role": "user", "content": "{{text}}"},
    ]
    for label, field in (
        ("production", {"type": "string", "enum": [PAYLOAD]}),
        ("staging", {"type": "string", "pattern": PATTERN}),
    ):
        prompts.create_version(
            PROMPT,
            type="chat",
            prompt=messages,
            config={"response_schema": schema(field)},
            labels=[label],
            commit_message=PAYLOAD,
        )
    app = start_app(
        OPENAI_BASE_URL=fake_llm_url,
        OPENAI_API_KEY=OPENAI_KEY,
        PLAYGROUND_MODEL="fake-model",
        LANGFUSE_BASE_URL=lf_server.base_url,
        LANGFUSE_PUBLIC_KEY=PUBLIC_KEY,
        LANGFUSE_SECRET_KEY=SECRET_KEY,
    )
    _store_a_crashed_run(RunStore(app.data_dir / "runs.sqlite3"))
    return app


def _store_a_crashed_run(store: RunStore) -> None:
    """A run that crashed after two rows: a formula-like output and a hostile error."""
    store.create_run(
        RunRecord(
            id=RUN_ID,
            prompt_name=PROMPT,
            variants=["production", "staging"],
            total=4,
            status="failed",
            error=f"RuntimeError: {PAYLOAD}",
            samples_name=f"{PAYLOAD}.csv",
            meta={
                "versions": {"production": 1, "staging": 2},
                "schemas": {"production": schema({"type": "string"}), "staging": schema({})},
            },
        ),
        [Sample(id="s1", row=1, variables={"text": "a"}, expected={"label": PAYLOAD})],
    )
    store.add_results(
        [
            Result(
                RUN_ID, "s1", "production", PROMPT, 1,
                output={"label": '=HYPERLINK("http://127.0.0.1:9/x")'},
                expected={"label": PAYLOAD},
            ),
            Result(RUN_ID, "s1", "staging", PROMPT, 2, error=PAYLOAD, expected={"label": PAYLOAD}),
        ]
    )  # fmt: skip
    store.finish_run(RUN_ID, "failed", f"RuntimeError: {PAYLOAD}")


@pytest.fixture
def page_app(hostile_app: App) -> App:
    return hostile_app


def assert_inert(page: Any, requested: list[str]) -> None:
    """The payload drew no image and no link, and nothing asked for the image."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator('a[href^="javascript"]')).to_have_count(0)
    expect(page.locator('img[src*="127.0.0.1:9"]')).to_have_count(0)
    expect(page.get_by_role("link", name="click")).to_have_count(0)
    expect(page.locator('a[href*="127.0.0.1:9"]')).to_have_count(0)  # not even auto-linked
    assert not [u for u in requested if "127.0.0.1:9/" in u], requested
    html = page.content()
    for secret in SECRETS:
        assert secret not in html, f"secret {secret[:5]}… rendered in the page"


def choose(page: Any, box: str, option: str) -> None:
    from playwright.sync_api import expect

    combobox = page.get_by_role("combobox", name=box)
    combobox.click()
    # Type to filter: the dropdown renders only the first options of a long list, and the
    # shared Langfuse holds the other tests' prompts.
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(combobox).to_have_value(option)
    wait_for_app_run(page)  # the pick reruns the page; a click during it can be lost


def test_remote_and_model_text_is_plain_text_on_every_page(
    page: Any, hostile_app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(hostile_app.url)
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground", exact=True)).to_be_visible()
    choose(page, "Prompt", PROMPT)
    choose(page, "Label, version or draft", "production")
    expect(page.get_by_text(re.compile(r"v1 · chat · production"))).to_be_visible()
    assert_inert(page, requested)  # the commit message drew no image and no link ...
    expect(page.get_by_text(shown(PAYLOAD), exact=True)).to_be_visible()  # ... and is shown
    variable = page.get_by_role("textbox", name="{{text}}")
    variable.fill("hello there")
    variable.blur()
    page.get_by_role("button", name="Run", exact=True).click()
    valid = page.get_by_test_id("stMetric").filter(has_text="Valid")
    expect(valid).to_contain_text("yes", timeout=RUN_TIMEOUT_MS)
    page.get_by_text("JSON", exact=True).click()
    expect(page.get_by_test_id("stJson").get_by_text(PAYLOAD).first).to_be_visible()
    assert_inert(page, requested)

    choose(page, "Label, version or draft", "staging")
    page.get_by_role("button", name="Run", exact=True).click()
    error = page.get_by_test_id("stAlert").filter(has_text="should match pattern")
    # the model-side error, shown as written
    expect(error).to_contain_text(shown(PATTERN), timeout=RUN_TIMEOUT_MS)
    assert_inert(page, requested)
    page.screenshot(path=str(artifacts / "hostile-01-playground.png"))

    page.goto(f"{hostile_app.url}/versions")
    expect(page.get_by_role("heading", name="Versions & Promote")).to_be_visible()
    choose(page, "Prompt", PROMPT)
    select_tab(page, "Promote")
    choose(page, "Version to promote", "v2 [staging, latest]")
    page.get_by_role("button", name="Promote…").click()
    expect(page.get_by_role("dialog").get_by_text(f"Move production of {PROMPT}")).to_be_visible()
    assert_inert(page, requested)
    page.keyboard.press("Escape")

    page.goto(f"{hostile_app.url}/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    choose(page, "Run", RUN_ID)
    page.get_by_role("button", name="Reopen in Compare").click()
    expect(page.get_by_text(shown(f"RuntimeError: {PAYLOAD}"), exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(re.escape(shown(f"samples {PAYLOAD}.csv"))))).to_be_visible()
    choose(page, "Inspect sample", "s1")
    alerts = page.get_by_test_id("stAlert").filter(has_text=shown(PAYLOAD))
    expect(alerts).to_have_count(2)  # the run's error and the row's error
    expect(page.get_by_text(shown(f"expected: label={PAYLOAD}"), exact=True)).to_have_count(2)
    assert_inert(page, requested)
    page.screenshot(path=str(artifacts / "hostile-02-compare.png"))


def _download(page: Any, button: Any) -> list[dict[str, str]]:
    with page.expect_download() as info:
        button.click()
    data = Path(info.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(data)))


def _runs_page_with_the_run(page: Any, app: App) -> None:
    """A fresh page each time: Chromium blocks a second automatic download from one page."""
    from playwright.sync_api import expect

    page.goto(f"{app.url}/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    choose(page, "Run", RUN_ID)
    choose(page, "Export format", "csv")


def test_download_buttons_export_the_stored_run(page: Any, hostile_app: App) -> None:

    _runs_page_with_the_run(page, hostile_app)
    long_rows = _download(page, page.get_by_role("button", name="Download", exact=True))
    assert [(r["sample_id"], r["variant"]) for r in long_rows] == [
        ("s1", "production"),
        ("s1", "staging"),
    ]
    assert long_rows[0]["output.label"] == '\'=HYPERLINK("http://127.0.0.1:9/x")'  # neutralized
    assert long_rows[1]["error"] == PAYLOAD
    assert long_rows[0]["expected_label"] == PAYLOAD

    _runs_page_with_the_run(page, hostile_app)
    page.get_by_role("button", name="Reopen in Compare").click()
    page.get_by_role("tab", name="Export").click()
    (wide,) = _download(page, page.get_by_role("button", name="CSV (wide)"))
    assert wide["sample_id"] == "s1"
    assert wide["output.label.production"] == '\'=HYPERLINK("http://127.0.0.1:9/x")'
    assert wide["error.staging"] == PAYLOAD


def test_no_page_shows_a_secret(page: Any, hostile_app: App) -> None:
    from playwright.sync_api import expect

    requested: list[str] = []
    page.goto(hostile_app.url)
    for link, heading in (
        ("Compare", "Compare prompt versions"),
        ("Playground", "Playground"),
        ("Versions & Promote", "Versions & Promote"),
        ("Runs", "Runs"),
    ):
        page.get_by_role("link", name=link).click()
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        page.get_by_test_id("stSidebar").get_by_text("Connections").wait_for()
        assert_inert(page, requested)


def test_the_start_up_error_box_shows_no_secret(
    browser: Any, start_app: AppFactory, artifacts: Path, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    broken = start_app(
        LANGFUSE_BASE_URL=f"http://127.0.0.1:{free_port()}",
        LANGFUSE_PUBLIC_KEY="pk-lf-broken",
        LANGFUSE_SECRET_KEY="sk-lf-broken-secret",
        OPENAI_API_KEY="sk-broken-secret",
        PLAYGROUND_CONCURRENCY="0",  # invalid: the app cannot start
    )
    with open_page(browser, broken, artifacts, request, TIMEOUT_MS) as page:
        page.goto(broken.url)
        expect(page.get_by_text(re.compile("The settings are invalid"))).to_be_visible()
        html = page.content()
        for secret in ("sk-lf-broken-secret", "sk-broken-secret"):
            assert secret not in html
        expect(page.get_by_test_id("stException")).to_have_count(0)
