"""Playground: one prompt version, one input, the typed answer and its trace."""

from prompt_playground.ui import router
from prompt_playground.ui.playground_page import render

router.page(render)
