"""Compare: samples × prompt variants, side by side."""

from prompt_playground.ui.compare_page import render

render()
