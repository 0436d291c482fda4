"""``widgets.plain``: remote text escaped so Markdown shows it as written (the browser test
checks the rendering; this checks the escaping itself)."""

from __future__ import annotations

import re

import pytest

from prompt_playground.ui.widgets import plain

HOSTILE = [
    "![x](http://127.0.0.1:9/x.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] :material/warning: $x^2$ **bold** _it_ `code` # heading",
    "1. list\n- item\n> quote",
    "see www.example.com or mail a@b.co",
]


def unescape(markdown: str) -> str:
    """What CommonMark shows for backslash escapes (and the word joiners plain adds)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "").replace("  \n", "\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_text_reads_back_as_written(text: str) -> None:
    assert unescape(plain(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_no_markdown_character_is_left_unescaped(text: str) -> None:
    escaped = plain(text)
    unescaped_specials = re.findall(r"(?<!\\)[\[\]()<>!*_`#:$]", escaped)
    assert unescaped_specials == []
    assert "://" not in escaped.replace("\u2060\\://", "")  # no bare URL left to auto-link
