"""Benchmarks that print figures (``python -m bench.<name>``); tests never assert on time."""
