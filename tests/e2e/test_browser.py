"""The flows a person clicks through, in real chromium against ``streamlit run``:
compare two labels on an uploaded CSV, inspect a row, then promote staging's version to the
protected ``production`` label and read the move back through the langfuse SDK.

Each step saves a screenshot under ``test-artifacts/e2e/`` (for people, never compared).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, App, assert_clean, clean_env, select_tab, shot

pytestmark = pytest.mark.e2e

PROMPT = "chat-extract-feedback"
SAMPLES = ROOT / "src" / "prompt_playground" / "examples" / "sample_chats.csv"
SAMPLE_COUNT = 21
HIGHLIGHT_RGB = (0xFF, 0xE0, 0x8A)  # compare_page.HIGHLIGHT


def highlighted_pixels(canvas: Any) -> dict[str, int]:
    """Pixels of the highlight colour and of plain white cells on the grid's canvas.

    Streamlit's dataframe draws its cells on a canvas (glide-data-grid): cell styles are not in
    the DOM, so the highlight is observable only as painted colour.
    """
    result: dict[str, int] = canvas.evaluate(
        """(c, rgb) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let highlight = 0, white = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) highlight++;
                else if (d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255) white++;
            }
            return {highlight, white};
        }""",
        list(HIGHLIGHT_RGB),
    )
    return result


def test_compare_uploaded_csv_side_by_side_and_inspect_a_row(
    page: Any, app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(app.url)
    expect(page.get_by_role("heading", name="Compare prompt versions")).to_be_visible(
        timeout=60_000
    )
    assert_clean(page)
    shot(page, artifacts, "01-compare-empty")

    page.locator(".st-key-compare-upload input[type=file]").set_input_files(SAMPLES)
    expect(
        page.get_by_text(f"Pre-flight OK: {SAMPLE_COUNT} of {SAMPLE_COUNT} rows runnable")
    ).to_be_visible()

    # Choose the two labels by hand: clear the defaults, see that no run is offered, pick them.
    variants = page.get_by_role("combobox", name="Labels / versions to compare")
    page.locator(".st-key-compare-variants").get_by_role("button", name="Clear all").click()
    expect(page.get_by_text("Choose at least two labels or versions to compare.")).to_be_visible()
    expect(page.get_by_role("button", name="Run comparison")).to_have_count(0)
    for label in ("production", "staging"):
        variants.click()
        page.get_by_role("option", name=label, exact=True).click()
    page.keyboard.press("Escape")
    expect(page.get_by_text(f"× 2 variants = {2 * SAMPLE_COUNT} calls")).to_be_visible()
    assert_clean(page)
    shot(page, artifacts, "02-compare-setup")

    page.get_by_role("button", name="Run comparison").click()
    expect(
        page.get_by_text(f"{2 * SAMPLE_COUNT}/{2 * SAMPLE_COUNT} done · 0 errors")
    ).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"status completed"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"production \(v1\), staging \(v2\)"))).to_be_visible()
    table = page.locator(".st-key-compare-table")
    # The grid is a canvas; glide-data-grid mirrors it in a hidden accessible <table>.
    grid = table.locator("table[role=grid]")
    expect(grid).to_have_attribute("aria-rowcount", str(SAMPLE_COUNT + 1))  # + header
    for column in ("sentiment [production]", "sentiment [staging]"):
        expect(table.locator("th[role=columnheader]", has_text=column)).to_have_count(1)
    # Rows in the samples file's order, whatever order the calls finished in.
    ids = table.locator("[role=gridcell][aria-colindex='1']")
    expect(ids.first).to_have_text("c01")
    rendered = [t.strip() for t in ids.all_text_contents()]  # the rows the grid has drawn
    assert rendered == [f"c{i:02d}" for i in range(1, len(rendered) + 1)], rendered
    assert_clean(page)
    shot(page, artifacts, "03-compare-results")

    canvas = table.get_by_test_id("data-grid-canvas")
    pixels = highlighted_pixels(canvas)
    assert pixels["highlight"] > 0, "no differing cell is highlighted"
    assert pixels["white"] > 0, "every cell is highlighted (agreeing cells must not be)"

    toggle_label = page.get_by_text(re.compile(r"Only rows that differ \(\d+ of \d+\)"))
    counts = re.search(r"\((\d+) of (\d+)\)", toggle_label.inner_text())
    assert counts is not None
    differing, total = int(counts.group(1)), int(counts.group(2))
    assert total == SAMPLE_COUNT
    assert differing > 0, "the two labels' prompts differ; some outputs must differ"
    toggle_label.click()
    expect(grid).to_have_attribute("aria-rowcount", str(differing + 1))
    toggle_label.click()
    expect(grid).to_have_attribute("aria-rowcount", str(total + 1))

    # Select the first row in the grid (its row-marker checkbox) to open its detail.
    table.locator(".dvn-scroller").click(position={"x": 15, "y": 36 + 17})
    expect(page.get_by_role("combobox", name="Inspect sample")).to_have_value("c01")
    for variant, version in (("production", 1), ("staging", 2)):
        expect(page.get_by_role("heading", name=variant, exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile(rf"^v{version} · 1 attempt\(s\)"))).to_be_visible()
        expect(page.get_by_text(f"GENERATION {variant} · c01")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Trace [0-9a-f]{32}"))).to_have_count(2)
    expected = 'expected: sentiment=negative, urgency=medium, topics=["delivery"]'
    expect(page.get_by_text(expected, exact=True)).to_have_count(2)  # JSON, not Python repr
    expect(page.get_by_text("No trace for this result.")).to_have_count(0)
    assert_clean(page)
    shot(page, artifacts, "04-compare-row-detail")


def test_playground_refuses_empty_variables_then_answers_with_a_trace(
    page: Any, app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(app.url)
    # The app's own navigation (not the pages/ folder's, shown until app.py has run).
    expect(page.get_by_role("link", name="Versions & Promote")).to_be_visible()
    page.get_by_role("link", name="Playground").click()
    expect(page.get_by_role("heading", name="Playground", exact=True)).to_be_visible()
    variant = page.get_by_role("combobox", name="Label, version or draft")
    variant.click()
    page.get_by_role("option", name="staging", exact=True).click()
    expect(variant).to_have_value("staging")

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("Fill in 'chat_json' first.")).to_be_visible()
    expect(page.get_by_role("heading", name="Output")).to_have_count(0)  # nothing was sent

    chat = [{"role": "user", "content": "My parcel arrived broken. I want a refund."}]
    variable = page.get_by_role("textbox", name="{{chat_json}}")
    variable.fill(json.dumps(chat))
    variable.blur()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("heading", name="Output")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Valid")).to_contain_text("yes")
    expect(
        page.get_by_text(re.compile(r"^GENERATION playground · chat-extract-feedback v2"))
    ).to_be_visible()
    expect(page.get_by_text("Fill in 'chat_json' first.")).to_have_count(0)
    output = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text="value"))
    cells = output.locator("[role=gridcell]")
    expect(cells.filter(has_text=re.compile(r"^(true|false)$"))).to_have_count(1)
    expect(cells.filter(has_text=re.compile(r"^(True|False)$"))).to_have_count(0)  # as JSON
    assert_clean(page)
    shot(page, artifacts, "05-playground")


def test_promote_staging_version_to_protected_production_label(
    page: Any, app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(app.url)
    page.get_by_role("link", name="Versions & Promote").click()
    expect(page.get_by_role("heading", name="Versions & Promote")).to_be_visible()
    assert_clean(page)
    shot(page, artifacts, "06-versions")

    select_tab(page, "Promote")
    version = page.get_by_role("combobox", name="Version to promote")
    version.click()
    # Labels in Langfuse's order: as given, then `latest` (PATCH puts new ones first).
    page.get_by_role("option", name="v2 [staging, latest]").click()
    expect(version).to_have_value("v2 [staging, latest]")
    expect(page.get_by_role("textbox", name="Label")).to_have_value("production")
    page.get_by_role("button", name="Promote…").click()

    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Move production of {PROMPT}: v1 → v2")).to_be_visible()
    confirm = dialog.get_by_role("button", name="Promote v2 to production")
    expect(confirm).to_be_disabled()  # production is protected: not without typing it
    typed = dialog.get_by_label("'production' is protected: type the label to confirm")
    typed.fill("staging")
    typed.press("Enter")
    expect(confirm).to_be_disabled()
    typed.fill("production")
    typed.press("Enter")
    expect(confirm).to_be_enabled()
    assert_clean(page)
    shot(page, artifacts, "07-promote-dialog")

    confirm.click()
    expect(page.get_by_text("'production' moved: v1 → v2.")).to_be_visible()
    expect(dialog).to_have_count(0)
    versions = page.get_by_test_id("stDataFrame").filter(
        has=page.locator("th", has_text="commit message")
    )
    expect(versions.locator("[role=gridcell][aria-colindex='2']").first).to_have_text(
        "production, staging, latest"
    )
    assert_clean(page)
    shot(page, artifacts, "08-promoted")

    app.stop()  # release the data dir, then read it back through the SDK in a fresh process
    labels = _labels_through_sdk(app.data_dir / "local-langfuse.sqlite3")
    assert labels == {"production": 2, "staging": 2}


SDK_CHECK = """
import json, sys
from pathlib import Path
from langfuse import Langfuse
from local_langfuse import LocalLangfuseServer, ServerConfig

with LocalLangfuseServer(ServerConfig(db_path=Path(sys.argv[1]))) as server:
    client = Langfuse(public_key="pk-lf-local", secret_key="sk-lf-local", base_url=server.base_url)
    found = {
        label: client.get_prompt(sys.argv[2], label=label, cache_ttl_seconds=0).version
        for label in ("production", "staging")
    }
    client.shutdown()
print(json.dumps(found))
"""


def _labels_through_sdk(db_path: Path) -> dict[str, int]:
    """The SDK keeps one client per key per process: a fresh process gets its own."""
    assert db_path.exists(), f"no local-langfuse database at {db_path}"
    done = subprocess.run(
        [sys.executable, "-c", SDK_CHECK, str(db_path), PROMPT],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
