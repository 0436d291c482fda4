"""Signs of degenerate model output: text that loops ("1.1.1.1", "sí, sí, sí, sí") and lists
that hold the same item twice. Small local models produce these when sampling is left greedy;
the test of the embedded model and ``bench.first_run`` count them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["degenerate_cells", "degenerate_reason"]

# A chunk of 2 to 40 characters repeated back to back ("1.1.1.", "lo-de-lo-de-lo"), or one
# letter or digit six times ("aaaaaa"); a loop covers at least 2.5 chunks and 6 characters.
_LOOP = re.compile(r"(.{2,40}?)\1+|(.)\2{5,}", re.DOTALL)
_MIN_LOOP_CHUNKS = 2.5
_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_LOOP_CHARS = 6
_NGRAM = 3
_NGRAM_REPEATS = 3


def degenerate_reason(value: Any) -> str | None:
    """Why ``value`` (one output field) looks degenerate, or None when it looks fine.

    Strings: a chunk repeated back to back, or the same three words three times. Lists: an
    item that occurs twice (case and surrounding spaces ignored), or a degenerate item.
    Objects: any degenerate value inside.
    """
    if isinstance(value, str):
        return _text_reason(value)
    if isinstance(value, list):
        seen: set[str] = set()
        for item in value:
            key = _normal(item)
            if key in seen:
                return f"the item {item!r} occurs twice"
            seen.add(key)
            reason = degenerate_reason(item)
            if reason is not None:
                return reason
        return None
    if isinstance(value, Mapping):
        for inner in value.values():
            reason = degenerate_reason(inner)
            if reason is not None:
                return reason
    return None


def degenerate_cells(output: Mapping[str, Any] | None) -> dict[str, str]:
    """Each field of one typed output that looks degenerate, with the reason."""
    if not output:
        return {}
    found = {name: degenerate_reason(value) for name, value in output.items()}
    return {name: reason for name, reason in found.items() if reason is not None}


def _text_reason(text: str) -> str | None:
    lowered = text.casefold()
    for match in _LOOP.finditer(lowered):
        if match.group(2):
            if match.group(2).isalnum():
                return f"repeats {match.group(2)!r} over and over"
            continue
        chunk = match.group(1)
        covered = len(match.group(0)) + _common_prefix(chunk, lowered[match.end() :])
        if (
            covered >= _MIN_LOOP_CHUNKS * len(chunk)
            and covered >= _MIN_LOOP_CHARS
            and any(c.isalnum() for c in chunk)
        ):
            return f"repeats {chunk.strip()!r} over and over"
    words = _WORD.findall(lowered)
    counts = Counter(_ngrams(words))
    if counts:
        gram, count = counts.most_common(1)[0]
        if count >= _NGRAM_REPEATS:
            return f"repeats {' '.join(gram)!r} {count} times"
    return None


def _common_prefix(chunk: str, rest: str) -> int:
    n = 0
    while n < len(chunk) and n < len(rest) and chunk[n] == rest[n]:
        n += 1
    return n


def _ngrams(words: list[str]) -> Iterator[tuple[str, ...]]:
    for i in range(len(words) - _NGRAM + 1):
        yield tuple(words[i : i + _NGRAM])


def _normal(item: Any) -> str:
    return str(item).strip().casefold() if isinstance(item, str) else repr(item)
