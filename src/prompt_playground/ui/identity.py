"""Who is using the app: the signed-in user when an ``[auth]`` section is configured
(Streamlit's built-in OIDC: ``st.login``, ``st.user``, ``st.logout``), else the single user of
today (``PLAYGROUND_ACTOR`` or the OS user) with no sign-in at all.

The router calls :func:`require_sign_in` before anything else, so a signed-out visitor sees only
the sign-in page. Nothing here ever shows the ``[auth]`` secrets (client secret, cookie secret).
"""

from __future__ import annotations

import streamlit as st

from prompt_playground.actors import Actor, actor_from_claims, local_actor
from prompt_playground.settings import Settings
from prompt_playground.ui.widgets import plain


def auth_configured() -> bool:
    """True when Streamlit's secrets hold an ``[auth]`` section (sign-in is on)."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except (FileNotFoundError, KeyError):
        return False


def signed_in() -> bool:
    return bool(st.user.is_logged_in)


def require_sign_in() -> None:
    """With sign-in configured and nobody signed in: the sign-in page (the only page the
    navigation knows then, so no other page is listed or reachable), then ``st.stop()``."""
    if not auth_configured() or signed_in():
        return
    st.navigation(
        [st.Page(_sign_in_page, title="Sign in", icon=":material/login:", default=True)],
        position="hidden",
    ).run()
    st.stop()


def _sign_in_page() -> None:
    st.title("Prompt Playground")
    st.markdown(
        "Sign in to compare prompt versions, run drafts and promote labels. Your name is "
        "recorded on the runs you start, the drafts you save and the labels you move."
    )
    st.button(
        "Sign in",
        type="primary",
        icon=":material/login:",
        key="identity.sign_in",
        on_click=st.login,
    )


def current_actor(settings: Settings) -> Actor:
    """The signed-in user, or the single-user fallback when sign-in is not configured."""
    if auth_configured() and signed_in():
        return actor_from_claims(st.user.to_dict(), via="app")
    return local_actor("app", settings.actor)


def sidebar_identity(settings: Settings) -> None:
    """Who is signed in (and a sign-out button); nothing when sign-in is not configured."""
    if not auth_configured():
        return
    actor = current_actor(settings)
    with st.sidebar:
        st.markdown(f":material/account_circle: Signed in as **{plain(actor.describe())}**")
        if actor.groups:
            st.caption("Groups: " + plain(", ".join(actor.groups)))
        st.button("Sign out", key="identity.sign_out", on_click=st.logout)
