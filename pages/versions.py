"""Versions & Promote: versions, diffs, new versions, label moves and their history."""

from prompt_playground.ui import router
from prompt_playground.ui.versions_page import render

router.page(render)
