"""The draft loop a person clicks through, in real chromium against ``streamlit run``: edit
production's system message on the Playground (a draft starts), run the draft on 3 bundled rows,
compare it against production, download that run from Compare and Runs (the same bytes as the
CLI's export), save the draft as a version (exactly one, read back through the langfuse SDK),
save again (none), and reload: the draft is still there.

Screenshots go to ``test-artifacts/e2e/`` (for people, never compared).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, App, AppFactory, assert_clean, clean_env, shot

pytestmark = pytest.mark.e2e

PROMPT = "chat-extract-feedback"
EXTRA = " Keep the summary under ten words."
DRAFT = "draft:production-edit"


@pytest.fixture(scope="module")
def drafts_app(start_fake_app: AppFactory) -> App:
    """An app of its own: this flow creates a version, which other browser tests must not see."""
    return start_fake_app()


@pytest.fixture
def page_app(drafts_app: App) -> App:
    return drafts_app


def download(page: Any, button: Any) -> bytes:
    with page.expect_download() as info:
        button.click()
    path = info.value.path()
    return Path(path).read_bytes()


def test_edit_run_compare_save_and_reload_a_draft(
    page: Any, drafts_app: App, artifacts: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    app = drafts_app
    page.goto(app.url)
    # The app's own navigation (not the pages/ folder's, shown until app.py has run).
    expect(page.get_by_role("link", name="Versions & Promote")).to_be_visible()
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground", exact=True)).to_be_visible()
    choice = page.get_by_role("combobox", name="Label, version or draft")
    expect(choice).to_have_value("production")

    # 1. Edit production's system message: a draft starts, nothing is sent to Langfuse.
    system = page.get_by_role("textbox", name="System message")
    system.fill(system.input_value() + EXTRA)
    system.blur()
    expect(page.get_by_text("Started draft 'production-edit' from production.")).to_be_visible()
    expect(choice).to_have_value(DRAFT)
    expect(
        page.get_by_text(re.compile(r"Draft production-edit of .* based on v1 · unsaved"))
    ).to_be_visible()
    assert_clean(page)

    # 2. Run the draft on the first 3 bundled rows.
    page.get_by_text("First rows of a samples file").click()
    page.get_by_role("button", name="Use the bundled sample chats").click()
    expect(page.get_by_role("spinbutton", name="Rows (from the top of the file)")).to_have_value(
        "3"
    )
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("heading", name="Outputs (3 rows, 0 errors)")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"^GENERATION playground · chat-extract-feedback draft"))
    ).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Valid")).to_contain_text("yes")
    assert_clean(page)
    shot(page, artifacts, "20-playground-draft-run")

    page.get_by_role("tab", name="Diff vs v1").click()
    expect(page.get_by_text("What the draft changes against v1, its base version.")).to_be_visible()
    shot(page, artifacts, "21-playground-draft-diff")

    # 3. Compare the draft against production.
    page.get_by_role("link", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare prompt versions")).to_be_visible()
    page.get_by_role("button", name="Use the bundled sample chats").click()
    variants = page.get_by_role("combobox", name="Labels / versions to compare")
    page.locator(".st-key-compare-variants").get_by_role("button", name="Clear all").click()
    expect(page.get_by_text("Choose at least two labels or versions to compare.")).to_be_visible()
    for option in ("production", DRAFT):
        variants.click()
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")
        chosen = page.locator(".st-key-compare-variants").get_by_text(option, exact=True)
        expect(chosen).to_be_visible()
    expect(page.get_by_text("× 2 variants = 42 calls")).to_be_visible()
    page.get_by_role("button", name="Run comparison").click()
    expect(page.get_by_text("42/42 done · 0 errors")).to_be_visible(timeout=60_000)
    expect(
        page.get_by_text(re.compile(r"production \(v1\), draft:production-edit \(unsaved\)"))
    ).to_be_visible()
    heading = page.get_by_role("heading", name=re.compile(r"^Run run-"))
    run_id = heading.inner_text().removeprefix("Run ").strip()
    assert_clean(page)
    shot(page, artifacts, "22-compare-draft-vs-production")

    # 4. One run, one file: Compare's and Runs' downloads equal the CLI's export.
    page.get_by_role("tab", name="Export").click()
    from_compare = download(page, page.get_by_role("button", name="CSV (long)"))
    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("combobox", name="Run")).to_have_value(run_id)
    from_runs = download(page, page.get_by_role("button", name="Download", exact=True))
    out = tmp_path / "cli.csv"
    exported = subprocess.run(
        [sys.executable, "-m", "prompt_playground.cli", "export", run_id, "--out", str(out)],
        cwd=ROOT,
        env=clean_env(PLAYGROUND_DATA_DIR=str(app.data_dir)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert from_compare == from_runs == out.read_bytes()
    assert from_compare.count(b"\n") == 43  # header + 21 samples x 2 variants

    # 5. Save the draft as a version: exactly one; saving again creates none.
    page.get_by_role("link", name="Playground").click()
    expect(choice).to_have_value(DRAFT)
    page.get_by_text("Save as a new version").click()  # the expander
    page.get_by_role("textbox", name="Commit message").fill("Shorter summaries")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_text("Saved draft 'production-edit' as v3.")).to_be_visible()
    shot(page, artifacts, "23-playground-draft-saved")
    page.get_by_role("button", name="Save as new version").click()
    expect(
        page.get_by_text("No new version: v3 already holds exactly this content.")
    ).to_be_visible()
    assert_clean(page)

    # 6. Reload: the draft is still there, with its edit.
    page.reload()
    expect(page.get_by_role("heading", name="Playground", exact=True)).to_be_visible()
    choice = page.get_by_role("combobox", name="Label, version or draft")
    choice.click()
    page.get_by_role("option", name=DRAFT, exact=True).click()
    expect(choice).to_have_value(DRAFT)
    expect(page.get_by_role("textbox", name="System message")).to_have_value(
        re.compile(re.escape(EXTRA.strip()) + r"$")
    )
    expect(page.get_by_text(re.compile(r"based on v1 · saved as v3"))).to_be_visible()
    expect(page.get_by_text("Save as a new version")).to_be_visible()  # rendered to the end
    assert_clean(page)
    shot(page, artifacts, "24-playground-draft-after-reload")

    app.stop()  # release the data dir, then read it back through the SDK in a fresh process
    versions = _versions_through_sdk(app.data_dir / "local-langfuse.sqlite3")
    assert [v["version"] for v in versions] == [1, 2, 3], "exactly one new version"
    assert versions[2]["prompt"][0]["content"].endswith(EXTRA.strip())
    assert versions[2]["commit_message"] == "Shorter summaries"


SDK_VERSIONS = """
import json, sys
from pathlib import Path
from langfuse import Langfuse
from local_langfuse import LocalLangfuseServer, ServerConfig

with LocalLangfuseServer(ServerConfig(db_path=Path(sys.argv[1]))) as server:
    client = Langfuse(public_key="pk-lf-local", secret_key="sk-lf-local", base_url=server.base_url)
    meta = client.api.prompts.list(name=sys.argv[2]).data[0]
    found = []
    for number in sorted(meta.versions):
        p = client.get_prompt(sys.argv[2], version=number, cache_ttl_seconds=0)
        found.append({"version": p.version, "prompt": p.prompt, "commit_message": p.commit_message})
    client.shutdown()
print(json.dumps(found))
"""


def _versions_through_sdk(db_path: Path) -> list[dict[str, Any]]:
    assert db_path.exists(), f"no local-langfuse database at {db_path}"
    done = subprocess.run(
        [sys.executable, "-c", SDK_VERSIONS, str(db_path), PROMPT],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
