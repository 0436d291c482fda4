"""The app's one router (page config, services, ``st.navigation``), and the guard every page file
renders through so that each URL is served by it, the first request after start included.

Why the guard: the app keeps a top-level ``pages/`` folder, and Streamlit treats an app with one
as a legacy (v1) multipage app until the main script calls ``st.navigation``. Until then, a
request for a page URL (``/versions``) runs ``pages/versions.py`` by itself, under a page list
built from the folder's file names ("app", "compare", …) and without the router's page config; as
long as no session has run ``app.py``, every session gets that. So a page file that finds itself
run without the router runs the router instead: ``st.navigation`` takes over from then on (for
this session and the process), resolves the same URL to the router's page, and runs this page
file again, under the router.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from prompt_playground.ui.identity import require_sign_in, sidebar_identity
from prompt_playground.ui.services import get_services

# True while the router runs the selected page. A ContextVar, not a module global: every script
# run has its own thread, and sessions run concurrently.
_routed: ContextVar[bool] = ContextVar("prompt_playground_routed", default=False)


def run() -> None:
    """Page config, sign-in, services once, the navigation; then the selected page, under the
    router."""
    st.set_page_config(page_title="Prompt Playground", page_icon="🧪", layout="wide")
    require_sign_in()
    services = get_services()
    navigation = st.navigation(
        [
            st.Page(
                "pages/compare.py",
                title="Compare",
                icon=":material/compare_arrows:",
                default=True,
            ),
            st.Page("pages/playground.py", title="Playground", icon=":material/science:"),
            st.Page("pages/versions.py", title="Versions & Promote", icon=":material/sell:"),
            st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
        ]
    )
    sidebar_identity(services.settings)
    with _routing():
        navigation.run()


def page(render: Callable[[], None]) -> None:
    """What a page file does: ``render`` under the router, or the router when run without it."""
    if _routed.get():
        render()
    else:
        run()


@contextmanager
def _routing() -> Iterator[None]:
    token = _routed.set(True)
    try:
        yield
    finally:
        _routed.reset(token)
