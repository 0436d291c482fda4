"""Compare: samples × prompt variants, side by side."""

from prompt_playground.ui import router
from prompt_playground.ui.compare_page import render

router.page(render)
