"""The Streamlit entry point (router only): page config, sign-in, services once, navigation."""

import streamlit as st

from prompt_playground.ui.identity import require_sign_in, sidebar_identity
from prompt_playground.ui.services import get_services

st.set_page_config(page_title="Prompt Playground", page_icon="🧪", layout="wide")
require_sign_in()
services = get_services()
navigation = st.navigation(
    [
        st.Page(
            "pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True
        ),
        st.Page("pages/playground.py", title="Playground", icon=":material/science:"),
        st.Page("pages/versions.py", title="Versions & Promote", icon=":material/sell:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    ]
)
sidebar_identity(services.settings)
navigation.run()
