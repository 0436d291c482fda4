"""A link to a page, opened first on a freshly started server, gets the app's router.

Before any session has run ``app.py``, Streamlit treats the app as a legacy multipage app (it has
a top-level ``pages/`` folder): a first request for ``/versions`` used to get a page list made of
file names ("app", "compare", …) and no wide layout, and kept it after reloads. Each case here
starts its own server so that no earlier visit to ``/`` hides the problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import App, AppFactory, open_page

pytestmark = pytest.mark.e2e

ROUTER_PAGES = ["Compare", "Playground", "Versions & Promote", "Runs"]
CENTERED_MAX_PX = 736  # Streamlit's centered layout: the main block is at most 46rem wide
TIMEOUT_MS = 30_000


@pytest.fixture
def fresh_app(start_app: AppFactory, fake_llm_url: str) -> Iterator[App]:
    """A server of its own, just started: no session has run ``app.py`` in it yet."""
    app = start_app(
        OPENAI_BASE_URL=fake_llm_url,
        OPENAI_API_KEY="sk-fake-e2e",
        PLAYGROUND_MODEL="fake-model",
    )
    yield app
    app.stop()


@pytest.fixture
def page(
    browser: Any, fresh_app: App, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Any]:
    with open_page(browser, fresh_app, artifacts, request, TIMEOUT_MS) as opened:
        yield opened


def assert_routed(page: Any, app: App, path: str, heading: str) -> None:
    """The router's page: its navigation (titles, not file names), its page, the wide layout."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    for title in ROUTER_PAGES:
        expect(nav.get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(nav.get_by_role("link")).to_have_count(len(ROUTER_PAGES))
    for raw in ("app", "compare", "playground", "versions", "runs"):
        expect(nav.get_by_role("link", name=raw, exact=True)).to_have_count(0)
    expect(page).to_have_url(f"{app.url}/{path}")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    main = page.get_by_test_id("stMainBlockContainer")
    box = main.bounding_box()
    assert box is not None
    assert box["width"] > CENTERED_MAX_PX, f"main block {box['width']} px: not the wide layout"


@pytest.mark.parametrize(
    ("path", "heading"), [("versions", "Versions & Promote"), ("runs", "Runs")], ids=str
)
def test_first_request_on_a_fresh_server_for_a_page_url_is_served_by_the_router(
    path: str, heading: str, fresh_app: App, page: Any, artifacts: Path
) -> None:
    page.goto(f"{fresh_app.url}/{path}")
    assert_routed(page, fresh_app, path, heading)
    page.screenshot(path=str(artifacts / f"deep-link-{path}-first.png"))

    page.reload()
    assert_routed(page, fresh_app, path, heading)

    # The other pages are the router's too, in the same session.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Compare").click()
    assert_routed(page, fresh_app, "", "Compare prompt versions")
