"""Sign-in and who may promote, in real chromium against a real OIDC provider process
(``oidc-provider-mock``): Streamlit's own ``st.login`` flow, two users, one in the promoters'
group. The other sees the gate but cannot promote ``production`` (the button is disabled and
says why); the promoter can, and the label history names the promoter.

The app reads its ``[auth]`` section from a temp secrets file (``--secrets.files``); nothing in
the repository holds a client or cookie secret.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROOT, App, AppFactory, _stop, clean_env, open_page, select_tab
from tests.support.servers import free_port

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 30_000
CLIENT_SECRET = "e2e-client-secret-not-shown"
COOKIE_SECRET = "e2e-cookie-secret-0123456789abcdef"
USERS = [
    {"sub": "ana", "email": "ana@example.com", "name": "Ana", "groups": ["release-managers"]},
    {"sub": "bo", "email": "bo@example.com", "name": "Bo", "groups": ["analysts"]},
]


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``oidc-provider-mock`` in its own process, with Ana and Bo as predefined users."""
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    claims = [arg for user in USERS for arg in ("--user-claims", json.dumps(user))]
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), *claims],
            cwd=ROOT,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"oidc-provider-mock did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def signed_app(
    start_app: AppFactory,
    fake_llm_url: str,
    oidc_provider: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> App:
    port = free_port()
    secrets = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "prompt-playground"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    return start_app(
        port=port,
        args=("--secrets.files", str(secrets)),
        OPENAI_BASE_URL=fake_llm_url,
        OPENAI_API_KEY="sk-fake-e2e",
        PLAYGROUND_MODEL="fake-model",
        PLAYGROUND_PROMOTERS="release-managers",
    )


@pytest.fixture
def pages(
    browser: Any, signed_app: App, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Any]]:
    """Two browser contexts: two people, each with their own cookie."""
    with (
        open_page(browser, signed_app, artifacts, request, TIMEOUT_MS) as first,
        open_page(browser, signed_app, artifacts, request, TIMEOUT_MS) as second,
    ):
        yield first, second


def email(user: str) -> str:
    """A pattern for ``user@example.com`` as the page shows it (``plain()`` puts a word joiner
    after the ``@`` so Markdown does not turn it into a link)."""
    return rf"{user}@\u2060?example\.com"


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def sign_in(page: Any, app: App, subject: str) -> None:
    from playwright.sync_api import expect

    page.goto(app.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_role("link", name="Compare")).to_have_count(0)  # not the app yet
    page.get_by_role("button", name="Sign in").click()
    # the provider's form: one button per predefined user ("bo"; 0.4 names it "Authorize as bo")
    page.get_by_role("button", name=re.compile(rf"^(Authorize as )?{subject}$")).click()
    expect(page.get_by_role("link", name="Versions & Promote")).to_be_visible()


def open_promote_dialog(page: Any) -> Any:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Versions & Promote").click()
    expect(page.get_by_role("heading", name="Versions & Promote")).to_be_visible()
    select_tab(page, "Promote")
    page.get_by_role("combobox", name="Version to promote").click()
    page.get_by_role("option", name=re.compile(r"^v2 \[staging")).click()
    page.get_by_role("button", name="Promote…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(re.compile(r"^No evidence: no completed comparison"))).to_be_visible()
    return dialog


def test_only_a_promoter_moves_production_and_the_history_names_them(
    pages: tuple[Any, Any], signed_app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    bo, ana = pages
    bo.goto(signed_app.url)
    expect(bo.get_by_role("heading", name="Prompt Playground")).to_be_visible()
    expect(bo.get_by_role("button", name="Sign in")).to_be_visible()
    expect(bo.get_by_text(CLIENT_SECRET)).to_have_count(0)
    expect(bo.get_by_text(COOKIE_SECRET)).to_have_count(0)
    shot(bo, artifacts, "30-sign-in")

    sign_in(bo, signed_app, "bo")
    sidebar = bo.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(re.compile(rf"Signed in as\s*Bo <{email('bo')}>"))).to_be_visible()
    expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible()
    dialog = open_promote_dialog(bo)
    expect(
        dialog.get_by_text(re.compile(r"Only promoters may move the protected label"))
    ).to_be_visible()
    expect(
        dialog.get_by_text(re.compile(rf"{email('bo')} \(groups: analysts\) is not listed"))
    ).to_be_visible()
    typed = dialog.get_by_label("'production' is protected: type the label to confirm")
    typed.fill("production")
    typed.press("Enter")
    confirm = dialog.get_by_role("button", name="Promote v2 to production")
    expect(confirm).to_be_disabled()  # typing the label does not make Bo a promoter
    confirm.scroll_into_view_if_needed()
    bo.screenshot(path=str(artifacts / "31-promote-refused.png"))  # the dialog's end in view

    sign_in(ana, signed_app, "ana")
    expect(
        ana.get_by_test_id("stSidebar").get_by_text(
            re.compile(rf"Signed in as\s*Ana <{email('ana')}>")
        )
    ).to_be_visible()
    dialog = open_promote_dialog(ana)
    expect(dialog.get_by_text(re.compile(r"Only promoters may move"))).to_have_count(0)
    typed = dialog.get_by_label("'production' is protected: type the label to confirm")
    typed.fill("production")
    typed.press("Enter")
    confirm = dialog.get_by_role("button", name="Promote v2 to production")
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(ana.get_by_text("'production' moved: v1 → v2.")).to_be_visible()
    select_tab(ana, "Label history")
    expect(
        ana.get_by_text(re.compile(rf"production: v1 → v2 · by {email('ana')} \(app\)"))
    ).to_be_visible()
    expect(ana.get_by_test_id("stException")).to_have_count(0)
    shot(ana, artifacts, "32-promoted-history")
