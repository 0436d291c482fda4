"""The Streamlit layer: cached services, session-state keys, shared widgets and page bodies.

The only package under ``src/`` that imports streamlit; ``pages/`` files call ``render()`` here.
"""
