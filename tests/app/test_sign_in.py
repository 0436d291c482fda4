"""Sign-in in the app (AppTest): with an ``[auth]`` section a signed-out visitor gets only the
sign-in page; a signed-in user is named in the sidebar and recorded as the actor. Without one
(every other app test) there is no sign-in at all."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.app.helpers import EXAMPLE_PROMPT, assert_clean, shown

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "app-test-cookie-secret-do-not-show",
    "client_id": "playground",
    "client_secret": "app-test-client-secret-do-not-show",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def _app(user: dict[str, object]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = user
    at.session_state["versions.prompt"] = EXAMPLE_PROMPT
    return at


def _texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.title, *at.caption])


def test_a_signed_out_visitor_sees_only_the_sign_in_page(app_env: Path) -> None:
    at = _app({"is_logged_in": False})
    at.run()
    assert_clean(at)
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Prompt Playground"]
    assert not at.tabs  # no page of the app ran
    assert not at.dataframe
    assert "do-not-show" not in _texts(at)


def test_a_signed_in_user_is_named_in_the_sidebar_with_a_sign_out_button(app_env: Path) -> None:
    at = _app(
        {
            "is_logged_in": True,
            "email": "ana@example.com",
            "name": "Ana",
            "groups": ["release-managers"],
        }
    )
    at.run()
    assert_clean(at)
    sidebar = shown(" ".join(str(m.value) for m in at.sidebar.markdown)).replace("\u2060", "")
    assert "Signed in as **Ana <ana@example.com>**" in sidebar
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    assert "do-not-show" not in _texts(at)
