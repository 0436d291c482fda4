"""Helpers for AppTest scenarios: run the app, assert no exception and no error message."""

from __future__ import annotations

import re

import pandas as pd
from streamlit.testing.v1 import AppTest

from prompt_playground.ui import keys
from tests.app.conftest import APP

#: The prompt the app tests work on. The Langfuse server is shared with the integration tests,
#: whose prompts may sort first in the pickers, so every page starts on this one, as a person
#: would pick it.
EXAMPLE_PROMPT = "chat-extract-feedback"


def open_page(page: str | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key in (keys.COMPARE_PROMPT, keys.PLAY_PROMPT, keys.VERSIONS_PROMPT):
        at.session_state[key] = EXAMPLE_PROMPT
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert_clean(at)
    return at


def shown(markdown: str) -> str:
    """What a person reads from Markdown whose remote text was escaped by ``widgets.plain``."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box (errors are always messages, never tracebacks)."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first table showing ``column`` (AppTest keeps keys only on selectable tables)."""
    for frame in at.dataframe:
        value = frame.value
        if column in value.columns:
            return value
    raise AssertionError(f"No table with a column {column!r}")
