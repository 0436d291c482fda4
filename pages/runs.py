"""Runs: history of comparison runs; reopen, export, delete."""

from prompt_playground.ui import router
from prompt_playground.ui.runs_page import render

router.page(render)
