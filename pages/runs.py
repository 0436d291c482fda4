"""runs (placeholder)."""

import streamlit as st

st.info("Coming soon.")
