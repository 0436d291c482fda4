"""The product's promise, in real chromium: on a fresh machine with no keys, ``make run`` →
Compare → production vs staging on the sample chats gives real model outputs.

The app runs exactly as ``make run`` starts it, with no LANGFUSE_* and no OPENAI_* at all: the
embedded local-langfuse and the embedded SmolLM2 behind llama.cpp. Three sample rows keep the
run short; the first call also loads the model.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from prompt_playground.degenerate import degenerate_cells, degenerate_reason
from prompt_playground.local_model import DEFAULT_PARALLEL
from prompt_playground.runstore import RunStore
from tests.e2e.conftest import ROOT, App, AppFactory

pytestmark = [pytest.mark.e2e, pytest.mark.model]

SAMPLES = ROOT / "src" / "prompt_playground" / "examples" / "sample_chats.csv"
ROWS = 3
CALLS = 2 * ROWS  # production and staging
SENTIMENTS = ("positive", "neutral", "negative", "mixed")
RUN_TIMEOUT_MS = 180_000  # generous: the first call loads the model, 2 shared cores


@pytest.fixture(scope="module")
def local_app(start_app: AppFactory) -> App:
    """``streamlit run app.py`` with no keys and no URLs: every default is embedded."""
    return start_app()


@pytest.fixture
def small_samples(tmp_path: Path) -> Path:
    """The bundled sample chats cut to their first rows (header kept)."""
    with SAMPLES.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows[: ROWS + 1])
    path = tmp_path / "sample_chats_3.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def page_app(local_app: App) -> App:
    return local_app


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"local-{name}.png"))


def assert_clean(page: Any) -> None:
    """Never: an exception box, a traceback, an error or warning alert."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Traceback")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)


def test_no_keys_compare_production_vs_staging_gives_real_local_model_outputs(
    page: Any, local_app: App, small_samples: Path, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(local_app.url)
    expect(page.get_by_role("heading", name="Compare prompt versions")).to_be_visible(
        timeout=60_000
    )
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Langfuse · embedded")).to_be_visible()
    expect(sidebar.get_by_text("LLM · embedded")).to_be_visible()
    expect(
        sidebar.get_by_text(
            "embedded local model — starts on the first run (SmolLM2 via llama.cpp on 127.0.0.1)"
        )
    ).to_be_visible()
    # The notice: the embedded model is for trying the app; one click shows how to connect.
    expect(page.get_by_text("enough to try the app, not to judge a prompt")).to_be_visible()
    page.get_by_role("button", name="Connect a real model").click()
    expect(page.get_by_text("export OPENAI_BASE_URL=", exact=False)).to_be_visible()
    page.get_by_role("heading", name="Compare prompt versions").click()  # closes the popover
    assert_clean(page)
    shot(page, artifacts, "01-compare-empty")

    page.locator(".st-key-compare-upload input[type=file]").set_input_files(small_samples)
    variants = page.get_by_role("combobox", name="Labels / versions to compare")
    page.locator(".st-key-compare-variants").get_by_role("button", name="Clear all").click()
    expect(page.get_by_role("button", name="Run comparison")).to_have_count(0)
    for label in ("production", "staging"):
        variants.click()
        page.get_by_role("option", name=label, exact=True).click()
    page.keyboard.press("Escape")
    expect(
        page.get_by_text(f"Pre-flight OK: {ROWS} of {ROWS} rows runnable × 2 variants")
    ).to_be_visible()
    # The default concurrency (8) is more than the embedded model serves well: the page says so.
    expect(page.get_by_text(f"so this run uses {DEFAULT_PARALLEL} instead of 8")).to_be_visible()
    assert_clean(page)
    shot(page, artifacts, "02-compare-setup")

    page.get_by_role("button", name="Run comparison").click()
    expect(page.get_by_text(f"{CALLS}/{CALLS} done · 0 errors")).to_be_visible(
        timeout=RUN_TIMEOUT_MS
    )
    expect(page.get_by_text(re.compile(r"status completed"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"production \(v1\), staging \(v2\)"))).to_be_visible()

    table = page.locator(".st-key-compare-table")
    # While the page swaps the live view for the final one, the last live table lingers briefly.
    expect(table).to_have_count(1)
    grid = table.locator("table[role=grid]")  # glide-data-grid's accessible mirror of the canvas
    expect(grid).to_have_attribute("aria-rowcount", str(ROWS + 1))  # + header
    headers = table.locator("th[role=columnheader]")
    for column in ("sentiment [production]", "sentiment [staging]"):
        expect(headers.filter(has_text=column)).to_have_count(1)
    expect(headers.filter(has_text=re.compile("error", re.IGNORECASE))).to_have_count(0)
    expect(table.locator("[role=gridcell][aria-colindex='1']")).to_have_text(
        [f"c{i:02d}" for i in range(1, ROWS + 1)]
    )
    # Real outputs: every sentiment cell, for both variants, holds one of the schema's values.
    header_texts = [t.strip() for t in headers.all_text_contents()]
    for column in ("sentiment [production]", "sentiment [staging]"):
        index = header_texts.index(column) + 1
        cells = table.locator(f"[role=gridcell][aria-colindex='{index}']")
        expect(cells).to_have_count(ROWS)
        values = [t.strip() for t in cells.all_text_contents()]
        assert all(v in SENTIMENTS for v in values), (column, values)
    # No degenerate cell: no loop in any text, no list holding an item twice (read from the
    # run store the page shows, where lists are still lists).
    (run,) = RunStore(local_app.data_dir / "runs.sqlite3").list_runs()
    results = RunStore(local_app.data_dir / "runs.sqlite3").results(run.id)
    assert len(results) == CALLS
    bad = {(r.sample_id, r.variant): degenerate_cells(r.output) for r in results}
    assert not any(bad.values()), bad
    for text in table.locator("[role=gridcell]").all_text_contents():
        assert degenerate_reason(text) is None, text
    assert_clean(page)
    shot(page, artifacts, "03-compare-results")

    page.get_by_role("tab", name="Metrics").click()
    metrics = page.get_by_test_id("stDataFrame").filter(
        has=page.locator("th", has_text="mean_attempts")
    )
    # Rates are 0..1 in the grid's accessible mirror (drawn as 100% / 0% bars on the canvas).
    for index, column, value in ((3, "valid", "1"), (4, "errors", "0")):
        expect(metrics.locator(f"th[role=columnheader][aria-colindex='{index}']")).to_have_text(
            column
        )
        expect(metrics.locator(f"[role=gridcell][aria-colindex='{index}']")).to_have_text(
            [value, value]
        )
    assert_clean(page)
    shot(page, artifacts, "04-metrics")

    # The sidebar names the model that answered once the run has started it, without a Recheck.
    expect(
        sidebar.get_by_text(
            "SmolLM2-135M-Instruct.Q4_1 (local) — "
            "SmolLM2-135M-Instruct (local, Q4_1), embedded llama.cpp on 127.0.0.1",
            exact=True,
        )
    ).to_be_visible()
    expect(sidebar.get_by_text("starts on the first run", exact=False)).to_have_count(0)
    assert_clean(page)
    shot(page, artifacts, "05-sidebar-model")
