"""Deep links on a freshly started server: the first request is a page URL, not ``/``.

Streamlit decides once per process whether the app is a legacy ``pages/`` app; before the fix, a
first visit to ``/versions`` got the file-name page list ("app", "compare", ...) without the
router's page config, and kept it after reloads. Every URL must go through ``app.py``'s router.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import App, AppFactory, open_page

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000
NAV_TITLES = ["Compare", "Playground", "Versions & Promote", "Runs"]
LEGACY_ENTRIES = ["app", "compare", "playground", "runs", "versions"]


@pytest.fixture(scope="module")
def fresh_app(start_app: AppFactory, fake_llm_url: str) -> App:
    """A server of its own that no browser has visited yet."""
    return start_app(
        OPENAI_BASE_URL=fake_llm_url, OPENAI_API_KEY="sk-fake-e2e", PLAYGROUND_MODEL="fake-model"
    )


@pytest.fixture
def page(
    browser: Any, fresh_app: App, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    with open_page(browser, fresh_app, artifacts, request, TIMEOUT_MS) as opened:
        yield opened


def assert_routed(page: Any, heading: str) -> None:
    """The router's navigation (its titles, not file names) and its wide layout."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    links = nav.get_by_test_id("stSidebarNavLink")
    expect(links).to_have_count(len(NAV_TITLES))
    for title in NAV_TITLES:
        expect(links.filter(has_text=title)).to_have_count(1)
    texts = [t.strip() for t in links.all_inner_texts()]
    assert not set(texts) & set(LEGACY_ENTRIES), texts
    # layout="wide": the main column uses the window's width (the centred one stops at ~736 px).
    main = page.get_by_test_id("stMainBlockContainer")
    box = main.bounding_box()
    assert box is not None
    assert box["width"] > 1000, box
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_first_visit_to_a_page_url_goes_through_the_router_and_stays(
    page: Any, fresh_app: App, artifacts: Path
) -> None:
    page.goto(f"{fresh_app.url}/versions")  # the very first request this server sees
    assert_routed(page, "Versions & Promote")
    page.screenshot(path=str(artifacts / "deep-link-01-versions-first.png"))

    page.reload()
    assert_routed(page, "Versions & Promote")
    page.goto(f"{fresh_app.url}/runs")
    assert_routed(page, "Runs")
    page.goto(fresh_app.url)
    assert_routed(page, "Compare prompt versions")
    page.screenshot(path=str(artifacts / "deep-link-02-root-after.png"))
