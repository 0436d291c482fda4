"""A playground that cannot start shows a message a person can act on, never a traceback.

Runs last in tests/app (it drops the cached services, which later tests would rebuild)."""

from __future__ import annotations

import os
from pathlib import Path

from streamlit.testing.v1 import AppTest

from prompt_playground.ui.services import reset_services
from tests.app.conftest import APP
from tests.app.helpers import shown


def test_remote_langfuse_without_keys_shows_what_to_set(app_env: Path) -> None:
    reset_services()
    saved = {k: os.environ.pop(k) for k in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")}
    base_url = os.environ["LANGFUSE_BASE_URL"]
    os.environ["LANGFUSE_BASE_URL"] = "http://127.0.0.1:9"
    try:
        at = AppTest.from_file(APP, default_timeout=30).run()
        assert not at.exception
        messages = " ".join(shown(e.value) for e in at.error)
        assert "LANGFUSE_PUBLIC_KEY" in messages
        assert "could not start" in messages
        assert not at.selectbox, "no page is rendered behind the error"
    finally:
        os.environ.update(saved, LANGFUSE_BASE_URL=base_url)
        reset_services()
