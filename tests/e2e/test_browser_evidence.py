"""Evidence before promotion, clicked through in real chromium: a comparison with repeats (the
estimate next to Run, stability per cell, the forest plot), then the Promote dialog where the
gate fails, an override with a reason, and that reason in the label history.

The app runs with a policy asking for 50 samples, so the gate on the 21 bundled chats fails
whatever the (fake) model answers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import App, AppFactory, select_tab, shot

pytestmark = pytest.mark.e2e

SAMPLE_COUNT = 21
REASON = "urgent fix, reviewed by Ana"


@pytest.fixture(scope="module")
def strict_app(start_fake_app: AppFactory) -> App:
    return start_fake_app(PLAYGROUND_PROMOTION_POLICY='{"min_samples": 50}')


@pytest.fixture
def page_app(strict_app: App) -> App:
    return strict_app


def test_repeats_forest_plot_then_override_a_failing_gate_with_a_reason(
    page: Any, strict_app: App, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(strict_app.url)
    expect(page.get_by_role("link", name="Versions & Promote")).to_be_visible()
    page.get_by_role("link", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Compare prompt versions")).to_be_visible()
    page.get_by_role("button", name="Use the bundled sample chats").click()
    expect(page.get_by_text(re.compile(rf"Calls: {2 * SAMPLE_COUNT}\b"))).to_be_visible()
    repeats = page.get_by_role("spinbutton", name="Repeats per sample")
    repeats.fill("2")
    repeats.press("Enter")
    calls = 2 * 2 * SAMPLE_COUNT
    expect(page.get_by_text(f"Calls: {calls} (× 2 repeats)")).to_be_visible()  # the estimate
    expect(page.get_by_text(f"× 2 repeats = {calls} calls")).to_be_visible()  # the pre-flight
    shot(page, artifacts, "20-evidence-estimate", full_page=True)

    page.get_by_role("button", name="Run comparison").click()
    expect(page.get_by_text(f"{calls}/{calls} done · 0 errors")).to_be_visible()
    expect(page.get_by_text(re.compile(r"status completed"))).to_be_visible()
    # the live fragment's last frame may linger faded below the finished one: take the first
    expect(
        page.get_by_text(re.compile(r"Unstable cells \(repeats disagree\): \d+")).first
    ).to_be_visible()
    shot(page, artifacts, "21-evidence-stability", full_page=True)

    page.get_by_role("tab", name="Metrics").last.click()  # a stale copy may linger a moment
    expect(page.get_by_text("Is it real? Paired statistics against production")).to_be_visible()
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(2)  # rates and latency, then the forest plot
    expect(charts.last).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"^Forest plot: each field's accuracy difference"))
    ).to_be_visible()
    expect(page.get_by_text("(share of samples whose repeats all agree)")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, artifacts, "22-evidence-forest-plot", full_page=True)

    page.get_by_role("link", name="Versions & Promote").click()
    expect(page.get_by_role("heading", name="Versions & Promote")).to_be_visible()
    select_tab(page, "Promote")
    version = page.get_by_role("combobox", name="Version to promote")
    version.click()
    page.get_by_role("option", name=re.compile(r"^v2 \[staging")).click()
    page.get_by_role("button", name="Promote…").click()
    dialog = page.get_by_role("dialog")
    expect(
        dialog.get_by_text(re.compile(r"^Promotion gate FAILS: staging over production"))
    ).to_be_visible()
    expect(
        dialog.get_by_text(re.compile(r"21 samples run by both \(policy: at least 50\)"))
    ).to_be_visible()
    expect(dialog.get_by_role("button", name=re.compile(r"^Open run run-"))).to_be_visible()
    confirm = dialog.get_by_role("button", name="Promote v2 to production")
    typed = dialog.get_by_label("'production' is protected: type the label to confirm")
    typed.fill("production")
    typed.press("Enter")
    expect(confirm).to_be_disabled()  # the gate failed: not without a reason
    shot(page, artifacts, "23-evidence-gate-fails", full_page=True)
    reason = dialog.get_by_label(re.compile(r"^Reason \(required to override"))
    reason.fill(REASON)
    reason.press("Control+Enter")
    expect(confirm).to_be_enabled()
    shot(page, artifacts, "24-evidence-override", full_page=True)
    confirm.click()
    expect(page.get_by_text("'production' moved: v1 → v2.")).to_be_visible()

    select_tab(page, "Label history")
    expect(
        page.get_by_text(re.compile(rf"gate FAILED on run run-[\w-]+; override: {REASON}"))
    ).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    shot(page, artifacts, "25-evidence-history", full_page=True)
