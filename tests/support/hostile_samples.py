"""A generated corpus of hostile samples files (truncated, nested, mis-encoded, oversized, NUL
bytes, ragged quoting), shared by the fuzz test and ``bench/samples_fuzz.py``.

``corpus(n, seed)`` is deterministic; ``full_size()`` adds the files from the review at their
real size (a 100,000-key JSONL row, 100,000-deep nesting, a 19 MB value).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from prompt_playground.samples import SampleLimits

#: Small limits so that the "too many / too big" paths are reached by small generated files.
SMALL_LIMITS = SampleLimits(max_bytes=64 * 1024, max_rows=60, max_columns=40, max_field_chars=500)
NAMES = ("s.csv", "s.tsv", "s.txt", "s.jsonl", "s.ndjson", "s.json", "samples", "s.CSV")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "utf-16-le")
_PIECES = (
    *(",", ";", "\t", "|", '"', '""', "\n", "\r\n", "\r", "{", "}", "[", "]", ":", "\\"),
    *("é", "😀", "=cmd", "id", "messages", "expected_label", "null", "true", "1e9"),
)


def _cell(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) if rng.random() < 0.3 else rng.choice("abc xyz") for _ in
                   range(rng.randint(0, 12)))  # fmt: skip


def _csv(rng: random.Random) -> str:
    delim = rng.choice(",;\t|")
    width = rng.randint(1, 16)
    header = ["id", "text", "messages", "expected_label", "Expected_Sentiment"][:width] + [
        _cell(rng) for _ in range(max(0, width - 5))
    ]
    rows = [delim.join(header)]
    for _ in range(rng.randint(0, 50)):
        cells = [_cell(rng) for _ in range(rng.randint(0, width + 2))]
        if rng.random() < 0.3:
            cells = [f'"{c}"' for c in cells]
        if rng.random() < 0.1 and cells:
            cells[rng.randrange(len(cells))] = _nested(rng, _depth(rng))
        rows.append(delim.join(cells))
    return "\n".join(rows)


def _nested(rng: random.Random, depth: int) -> str:
    opener = rng.choice(["[", '{"a":'])
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


def _depth(rng: random.Random) -> int:
    """Mostly shallow; sometimes past the interpreter's recursion limit."""
    return rng.randint(1, 60) if rng.random() < 0.7 else rng.randint(900, 3_000)


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.4:
        return rng.choice([_cell(rng), 1, 2.5, None, True, "x" * rng.randint(0, 600)])
    if roll < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {_cell(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def _jsonl(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(0, 50)):
        roll = rng.random()
        if roll < 0.1:
            lines.append(_nested(rng, _depth(rng)))
        elif roll < 0.2:
            lines.append(_cell(rng))
        else:
            record = {rng.choice(["id", "text", "messages", "expected_x", _cell(rng)]): _value(rng)
                      for _ in range(rng.randint(0, 20))}  # fmt: skip
            lines.append(json.dumps(record, ensure_ascii=rng.random() < 0.5))
    text = "\n".join(lines)
    return f"[{','.join(lines)}]" if rng.random() < 0.3 else text


def _mutate(rng: random.Random, data: bytes) -> bytes:
    roll = rng.random()
    if roll < 0.15 and data:
        return data[: rng.randint(0, len(data))]  # truncated
    if roll < 0.25 and data:
        i = rng.randint(0, len(data) - 1)
        return data[:i] + bytes([rng.randint(0, 255)]) + data[i + 1 :]  # one byte flipped
    if roll < 0.3 and data:
        i = rng.randint(0, len(data) - 1)
        return data[:i] + b"\x00" + data[i:]  # a NUL byte somewhere
    if roll < 0.35:
        return data * rng.randint(2, 60)  # oversized (for SMALL_LIMITS)
    return data


def hostile_file(rng: random.Random) -> tuple[bytes, str]:
    """One generated file and its name."""
    name = rng.choice(NAMES)
    text = _jsonl(rng) if rng.random() < 0.5 else _csv(rng)
    encoding = rng.choice(ENCODINGS)
    data = text.encode(encoding, errors="replace")
    if rng.random() < 0.05:
        data = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 2000)))
    return _mutate(rng, data), name


def corpus(n: int, seed: int = 11) -> Iterator[tuple[bytes, str]]:
    rng = random.Random(seed)
    for _ in range(n):
        yield hostile_file(rng)


def full_size() -> Iterator[tuple[str, bytes, str]]:
    """(label, data, name): the review's findings at their real size, for default limits."""
    yield "100k distinct keys", json.dumps({f"k{i}": i for i in range(100_000)}).encode(), "k.jsonl"
    yield "100k-deep list (.json)", b"[" * 100_000 + b"]" * 100_000, "deep.json"
    deep_line = b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    yield "100k-deep jsonl row", deep_line, "deep.jsonl"
    yield "19 MB jsonl value", b'{"text": "' + b"x" * (19 * 1024 * 1024) + b'"}\n', "big.jsonl"
    rows = b"".join(b'%d,"hello, there"\n' % i for i in range(9_999))
    yield "10k-row csv + NUL at the end", b"id,text\n" + rows + b"x,\x00\n", "nul.csv"
