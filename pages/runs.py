"""Runs: history of comparison runs; reopen, export, delete."""

from prompt_playground.ui.runs_page import render

render()
