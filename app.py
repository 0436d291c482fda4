"""Prompt Playground — the Streamlit entry point (router only; pages live in pages/)."""

import streamlit as st

st.set_page_config(page_title="Prompt Playground", layout="wide")
st.title("Prompt Playground")
st.info("The pages are being built. Run `prompt-playground --help` for the command line.")
