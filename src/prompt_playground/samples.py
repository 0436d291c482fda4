"""Samples files (CSV / JSONL) → ``Sample`` rows, and the pre-flight check run before any token.

Bad input never loses data: a row that cannot be used is kept with its ``error``; only problems
with the file as a whole (empty, too big, no header, duplicate column names) raise ``SamplesError``.
Every message names the file, and the row and column where relevant.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from prompt_playground.errors import SamplesError
from prompt_playground.models import Sample

__all__ = [
    "DELIMITERS",
    "MAX_JSON_DEPTH",
    "MESSAGE_ROLES",
    "PreflightReport",
    "SampleLimits",
    "SampleProblem",
    "SampleSet",
    "align_expected",
    "apply_mapping",
    "load_samples",
    "preflight",
]

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
MESSAGE_ROLES: frozenset[str] = frozenset({"system", "developer", "user", "assistant", "tool"})
ID_COLUMN = "id"
MESSAGES_COLUMN = "messages"
EXPECTED_PREFIX = "expected_"

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_RECORDS = 50
_JSON_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?")
#: JSON values in a samples file (a record, a ``messages`` or ``expected_*`` cell) may nest this
#: deep; deeper ones are refused before anything recurses over them.
MAX_JSON_DEPTH = 32

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class SampleLimits:
    """Limits that keep one upload from exhausting memory or a token budget."""

    max_bytes: int = 20 * 1024 * 1024
    max_rows: int = 10_000
    max_columns: int = 500
    #: One cell / JSON value, in characters (the csv module refuses longer cells by default too).
    max_field_chars: int = 131_072


@dataclass(frozen=True)
class SampleProblem:
    """One thing wrong with a samples file; ``message`` is the full sentence shown to a person.

    ``row`` is the 1-based data row (the header is not counted), ``None`` for the whole file.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class SampleSet:
    """A parsed samples file: every data row becomes a ``Sample`` (failed rows carry ``error``)."""

    filename: str
    samples: list[Sample]
    columns: list[str]
    encoding: str
    delimiter: str | None
    format: Literal["csv", "jsonl", "json"]
    problems: list[SampleProblem] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    #: The Langfuse dataset the samples came from, and each sample's item id (sample id → id).
    dataset: str | None = None
    dataset_items: dict[str, str] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.samples)

    @property
    def valid_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    @property
    def expected_fields(self) -> list[str]:
        return [c[len(EXPECTED_PREFIX) :] for c in self.columns if _expected_field(c)]

    @property
    def is_chat(self) -> bool:
        """True when the file has a ``messages`` column (multi-turn chats)."""
        return any(c.lower() == MESSAGES_COLUMN for c in self.columns)

    def describe(self) -> str:
        """A one-line summary: ``12 rows, 4 columns, UTF-8 with BOM, semicolon-separated``."""
        parts = [f"{self.row_count} rows", f"{len(self.columns)} columns", self.encoding]
        if self.delimiter is not None:
            parts.append(f"{_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated")
        else:
            parts.append(self.format.upper())
        return ", ".join(parts)


@dataclass(frozen=True)
class PreflightReport:
    """The result of ``preflight``: ``ok`` when nothing would fail once tokens are being spent."""

    filename: str
    problems: list[SampleProblem]
    sample_count: int
    runnable_count: int

    @property
    def errors(self) -> list[SampleProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[SampleProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        errors = self.errors
        if not errors:
            return f"{self.filename}: {self.sample_count} rows ready."
        head = errors[0].message
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        return f"{head}{more}"

    def raise_for_errors(self) -> None:
        """Raise ``SamplesError`` listing every error when the check failed."""
        errors = self.errors
        if errors:
            details = "\n".join(p.message for p in errors)
            raise SamplesError(self.summary(), details=details)


# ----------------------------------------------------------------------------- loading


def load_samples(
    data: bytes,
    filename: str,
    *,
    mapping: Mapping[str, str] | None = None,
    limits: SampleLimits = SampleLimits(),
    delimiter: str | None = None,
) -> SampleSet:
    """Parse a CSV or JSONL samples file.

    The format comes from the extension (``.csv``/``.tsv``/``.txt``, ``.jsonl``/``.ndjson``,
    ``.json``), else it is sniffed. Text is decoded as UTF-8 (with or without BOM), UTF-16 with
    BOM, else cp1252, else latin-1; ``SampleSet.encoding`` says which. ``mapping`` maps prompt
    variables to column names when they differ.

    Raises:
        SamplesError: the file as a whole cannot be used (empty, too big, no header, ...).
    """
    name = filename or "samples"
    if len(data) > limits.max_bytes:
        raise SamplesError(
            f"{name} is {_size(len(data))}, over the {_size(limits.max_bytes)} limit for a "
            "samples file. Split it into smaller files or raise the limit."
        )
    text, encoding = _decode(data, name)
    _check_nul(text, name)
    if not text.strip():
        raise SamplesError(
            f"{name} is empty. Upload a CSV with a header row (e.g. id,chat_json,expected_label) "
            "and one row per sample, or a JSONL file with one JSON object per line."
        )
    fmt = _detect_format(name, text)
    if fmt == "csv":
        sample_set = _parse_csv(text, name, encoding, limits, delimiter)
    else:
        sample_set = _parse_json_records(text, name, encoding, limits, fmt)
    if mapping:
        sample_set = apply_mapping(sample_set, mapping)
    return sample_set


def apply_mapping(sample_set: SampleSet, mapping: Mapping[str, str]) -> SampleSet:
    """Return the set with ``variables[variable] = value of column`` for each mapped variable.

    A mapping to a column the file does not have is left for ``preflight`` to report.
    """
    clean = {str(k).strip(): str(v).strip() for k, v in mapping.items() if str(v).strip()}
    samples = []
    for sample in sample_set.samples:
        variables = dict(sample.variables)
        for variable, column in clean.items():
            if column in sample.variables:
                variables[variable] = sample.variables[column]
        samples.append(replace(sample, variables=variables))
    return replace(sample_set, samples=samples, mapping={**sample_set.mapping, **clean})


def align_expected(expected: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Expected values keyed by the schema's field names.

    The ``expected_`` prefix is matched case-insensitively, so ``expected_Sentiment`` is the
    expected value of field ``sentiment``; a key that names a field exactly wins over one that
    differs only in case, and keys matching no field are kept as they are.
    """
    names = list(fields)
    by_lower = {n.lower(): n for n in names}
    exact = set(names)
    out: dict[str, Any] = {k: v for k, v in expected.items() if k in exact}
    for key, value in expected.items():
        if key in exact:
            continue
        target = by_lower.get(key.lower(), key)
        out.setdefault(target, value)
    return out


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return _strict_decode(data[len(codecs.BOM_UTF8) :], "utf-8", name), "UTF-8 with BOM"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict_decode(data, "utf-16", name), "UTF-16"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _nul_error(name, data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252 (Windows-1252)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1 (ISO-8859-1)"


def _nul_error(name: str, line: int) -> SamplesError:
    return SamplesError(
        f"{name}, line {line}: the file contains a NUL byte, so it looks like a binary file, "
        "not CSV or JSONL text. Export it from your spreadsheet as CSV (UTF-8)."
    )


def _check_nul(text: str, name: str) -> None:
    """After decoding (UTF-16 files have NUL bytes in their encoding, not in their text)."""
    nul = text.find("\x00")
    if nul >= 0:
        raise _nul_error(name, text.count("\n", 0, nul) + 1)


def _loads(text: str, where: str) -> Any:
    """``json.loads`` bounded to ``MAX_JSON_DEPTH`` levels; too deep is a ``SamplesError``.

    ``json.JSONDecodeError`` passes through for the caller to report as it sees fit.
    """
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise _depth_error(where) from exc
    if _depth(value) > MAX_JSON_DEPTH:
        raise _depth_error(where)
    return value


def _depth_error(where: str) -> SamplesError:
    return SamplesError(
        f"{where}: the JSON nests deeper than {MAX_JSON_DEPTH} levels of lists and objects. "
        "Flatten it."
    )


def _depth(value: Any) -> int:
    """How deep lists and objects nest (walked without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _strict_decode(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise SamplesError(
            f"{name} starts with a {codec.upper()} byte-order mark but is not valid "
            f"{codec.upper()} (byte {exc.start}). Re-export it as CSV (UTF-8)."
        ) from exc


def _detect_format(name: str, text: str) -> Literal["csv", "jsonl", "json"]:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    first = text.lstrip()[:1]
    if first == "[":
        return "json"
    if first == "{":
        return "jsonl"
    return "csv"


def _expected_field(column: str) -> bool:
    return column.lower().startswith(EXPECTED_PREFIX) and len(column) > len(EXPECTED_PREFIX)


def _parse_expected(value: Any, where: str) -> Any:
    """Cells that look like JSON (lists, objects, numbers, booleans, null) become JSON values."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    looks_json = (
        stripped[:1] in {"[", "{"}
        or stripped in {"true", "false", "null"}
        or _JSON_NUMBER.fullmatch(stripped) is not None
    )
    if looks_json:
        try:
            return _loads(stripped, where)
        except json.JSONDecodeError:
            return value
    return value


class _RowBuilder:
    """Turns one record (column → raw value) into a ``Sample``, collecting problems."""

    def __init__(self, name: str, columns: Sequence[str]) -> None:
        self.name = name
        self.columns = list(columns)
        self.problems: list[SampleProblem] = []
        self.seen_ids: dict[str, int] = {}
        lower = {c.lower(): c for c in columns}
        self.id_column = lower.get(ID_COLUMN)
        self.messages_column = lower.get(MESSAGES_COLUMN)

    def where(self, row: int, column: str | None = None) -> str:
        return f"{self.name}, row {row}" + (f", column '{column}'" if column else "")

    def problem(
        self, row: int | None, column: str | None, text: str, severity: Severity = "error"
    ) -> str:
        where = self.name if row is None else self.where(row, column)
        message = f"{where}: {text}"
        self.problems.append(SampleProblem(self.name, row, column, message, severity))
        return message

    def build(self, row: int, record: Mapping[str, Any], errors: list[str]) -> Sample:
        variables: dict[str, str] = {}
        expected: dict[str, Any] = {}
        messages: list[dict[str, str]] | None = None
        for column, value in record.items():
            if column == self.messages_column:
                messages = self._messages(row, column, value, errors)
            elif _expected_field(column):
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                expected[column[len(EXPECTED_PREFIX) :]] = _parse_expected(
                    value, self.where(row, column)
                )
            else:
                variables[column] = _as_text(value)
        sample_id = self._id(row, record, errors)
        error = "; ".join(errors) if errors else None
        return Sample(
            id=sample_id,
            row=row,
            variables=variables,
            messages=messages,
            expected=expected,
            error=error,
        )

    def _id(self, row: int, record: Mapping[str, Any], errors: list[str]) -> str:
        raw = record.get(self.id_column) if self.id_column else None
        sample_id = _as_text(raw).strip() if raw is not None else ""
        if not sample_id:
            sample_id = str(row)
        first = self.seen_ids.get(sample_id)
        if first is None:
            self.seen_ids[sample_id] = row
            return sample_id
        errors.append(
            self.problem(
                row,
                self.id_column,
                f"id '{sample_id}' is already used by row {first}; ids must be unique "
                f"(this row is kept as '{sample_id}@row{row}').",
            )
        )
        unique = f"{sample_id}@row{row}"
        self.seen_ids[unique] = row
        return unique

    def _messages(
        self, row: int, column: str, value: Any, errors: list[str]
    ) -> list[dict[str, str]] | None:
        hint = 'a JSON list like [{"role": "user", "content": "Hi"}]'
        parsed = value
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(self.problem(row, column, f"the cell is empty; expected {hint}."))
            return None
        if isinstance(value, str):
            try:
                parsed = _loads(value, self.where(row, column))
            except json.JSONDecodeError as exc:
                errors.append(
                    self.problem(
                        row,
                        column,
                        f"invalid JSON ({exc.msg} at character {exc.pos}); expected {hint}.",
                    )
                )
                return None
        if not isinstance(parsed, list) or not parsed:
            errors.append(self.problem(row, column, f"expected {hint}, got {_kind(parsed)}."))
            return None
        messages: list[dict[str, str]] = []
        for index, turn in enumerate(parsed, start=1):
            problem = _turn_problem(turn)
            if problem:
                errors.append(self.problem(row, column, f"message {index}: {problem}"))
                return None
            messages.append({"role": turn["role"], "content": turn["content"]})
        return messages


def _turn_problem(turn: Any) -> str | None:
    if not isinstance(turn, dict):
        return f'expected an object {{"role": ..., "content": ...}}, got {_kind(turn)}.'
    role = turn.get("role")
    if role not in MESSAGE_ROLES:
        return f"role {role!r} is not one of {', '.join(sorted(MESSAGE_ROLES))}."
    if not isinstance(turn.get("content"), str):
        return f"'content' must be a string, got {_kind(turn.get('content'))}."
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _sniff_delimiter(lines: list[str]) -> str:
    """Pick the candidate that splits the first records into the most consistent columns."""
    best, best_score = ",", (-1.0, 0)
    head = lines[: _SNIFF_RECORDS * 4]
    for candidate in DELIMITERS:
        try:
            records = [r for r in csv.reader(head, delimiter=candidate) if r]
        except csv.Error:
            continue
        records = records[:_SNIFF_RECORDS]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:] or records
        consistency = sum(len(r) == width for r in body) / len(body)
        score = (consistency, width)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _header(raw: list[str], name: str, delimiter: str, limits: SampleLimits) -> list[str]:
    columns = [c.strip() for c in raw]
    if not any(columns):
        raise SamplesError(
            f"{name}: the first line must be a header naming the columns "
            "(e.g. id,chat_json,expected_sentiment), but it is empty."
        )
    looks_like_data = [c for c in columns if c[:1] in {"[", "{"} or len(c) > 200]
    if looks_like_data:
        raise SamplesError(
            f"{name}: the first line must be a header naming the columns, but it looks like data "
            f"({looks_like_data[0][:60]!r}). Add a header row such as id,chat_json,expected_label."
        )
    if len(columns) > limits.max_columns:
        raise SamplesError(
            f"{name} has {len(columns)} columns, over the limit of {limits.max_columns}."
        )
    for index, column in enumerate(columns):
        if not column:
            columns[index] = f"column_{index + 1}"
    seen: dict[str, int] = {}
    for index, column in enumerate(columns, start=1):
        key = column.lower()
        if key in seen:
            raise SamplesError(
                f"{name}: column '{column}' appears twice in the header (columns {seen[key]} and "
                f"{index}). Rename one of them so every column has a unique name.",
                details=f"Header: {delimiter.join(columns)}",
            )
        seen[key] = index
    return columns


def _parse_csv(
    text: str, name: str, encoding: str, limits: SampleLimits, delimiter: str | None
) -> SampleSet:
    lines = list(io.StringIO(text, newline=""))
    delim = delimiter or _sniff_delimiter(lines)
    reader = csv.reader(lines, delimiter=delim)
    records: list[tuple[int, int, list[str]]] = []  # (first line, last line, cells)
    start = 0
    try:
        for cells in reader:
            end = reader.line_num
            if cells:
                records.append((start + 1, end, cells))
                if len(records) > limits.max_rows + 1:
                    raise SamplesError(
                        f"{name} has more than {limits.max_rows:,} rows, the limit for one run. "
                        "Split it into smaller files or raise the limit."
                    )
            start = end
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):  # the csv module's own cap
            lower = min(limits.max_field_chars, csv.field_size_limit())
            cap = replace(limits, max_field_chars=lower)
            raise _field_too_long(f"{name}, line {reader.line_num}", cap) from exc
        raise SamplesError(
            f"{name}, line {reader.line_num + 1}: the CSV cannot be parsed ({exc}). "
            "Check quoting in that line.",
        ) from exc
    if not records:
        raise SamplesError(f"{name} is empty: it has no header row and no data rows.")
    columns = _header(records[0][2], name, delim, limits)
    builder = _RowBuilder(name, columns)
    for index, column in enumerate(records[0][2], start=1):
        if not column.strip():
            builder.problem(
                None,
                columns[index - 1],
                f"header cell {index} is empty; that column is called '{columns[index - 1]}'.",
                "warning",
            )
    if len(records) == 1:
        raise SamplesError(
            f"{name} has a header ({', '.join(columns)}) but no data rows. Add one row per sample."
        )
    samples: list[Sample] = []
    for row, (first, last, cells) in enumerate(records[1:], start=1):
        errors: list[str] = []
        for column, cell in zip(columns, cells, strict=False):
            if len(cell) > limits.max_field_chars:
                raise _field_too_long(builder.where(row, column), limits)
        raw = "".join(lines[first - 1 : last])
        if '"' in raw:
            quote_problem = _quote_problem(raw, delim, first, last, len(lines))
            if quote_problem:
                errors.append(builder.problem(row, None, quote_problem))
        if len(cells) != len(columns):
            if len(cells) > len(columns):
                extra = ", ".join(repr(c[:30]) for c in cells[len(columns) :])
                detail = (
                    f"{len(cells)} cells but the header has {len(columns)} columns "
                    f"(extra cells: {extra}). Quote cells that contain the delimiter "
                    f"{_DELIMITER_NAMES[delim] if delim in _DELIMITER_NAMES else repr(delim)}."
                )
            else:
                missing = ", ".join(f"'{c}'" for c in columns[len(cells) :])
                detail = (
                    f"{len(cells)} cells but the header has {len(columns)} columns "
                    f"(missing: {missing})."
                )
            errors.append(builder.problem(row, None, f"the row has {detail}"))
        elif all(not c.strip() for c in cells):
            errors.append(builder.problem(row, None, "the row is empty."))
        record = dict(zip(columns, cells, strict=False))
        samples.append(builder.build(row, record, errors))
    return SampleSet(
        filename=name,
        samples=samples,
        columns=columns,
        encoding=encoding,
        delimiter=delim,
        format="csv",
        problems=builder.problems,
    )


def _field_too_long(where: str, limits: SampleLimits) -> SamplesError:
    return SamplesError(
        f"{where}: a value is longer than {limits.max_field_chars:,} characters, the limit for "
        "one cell. Shorten it or split the sample."
    )


def _check_fields(
    record: Mapping[str, Any], where: Callable[[str], str], limits: SampleLimits, long_line: bool
) -> None:
    """Every value of one JSON record within the per-field cap and free of NUL characters.

    ``long_line``: the record's text is longer than the cap, so a nested value might be too.
    """
    for key, value in record.items():
        if isinstance(value, str):
            size = len(value)
            if "\x00" in value:
                raise SamplesError(
                    f"{where(key)}: the value contains a NUL character (\\u0000); remove it."
                )
        elif long_line and isinstance(value, dict | list):
            size = len(json.dumps(value, ensure_ascii=False))
        else:
            continue
        if size > limits.max_field_chars:
            raise _field_too_long(where(key), limits)


def _quote_problem(raw: str, delim: str, first: int, last: int, total_lines: int) -> str | None:
    """Re-read one record strictly to catch an unclosed or stray quote the lenient reader hid."""
    try:
        list(csv.reader(io.StringIO(raw, newline=""), delimiter=delim, strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc) and last >= total_lines:
            return (
                f"a quoted cell opened on line {first} is never closed, so everything from line "
                f"{first} to the end of the file (line {last}) was read into this one row. "
                'Add the missing closing quote (") and upload again.'
            )
        return f"malformed quoting on lines {first}-{last} ({exc}); a quote inside a quoted cell "
        'must be doubled ("").'
    return None


def _parse_json_records(
    text: str, name: str, encoding: str, limits: SampleLimits, fmt: Literal["jsonl", "json"]
) -> SampleSet:
    entries: list[tuple[int, Any, str | None]] = []  # (line, value, parse error)
    if fmt == "json":
        try:
            document = _loads(text, name)
        except json.JSONDecodeError as exc:
            raise SamplesError(
                f"{name}, line {exc.lineno}: invalid JSON ({exc.msg}). A .json samples file "
                "must be a list of objects; use .jsonl for one object per line."
            ) from exc
        if not isinstance(document, list):
            raise SamplesError(f"{name} must hold a JSON list of objects, got {_kind(document)}.")
        entries = [(i, v, None) for i, v in enumerate(document, start=1)]
    else:
        for line_no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if len(entries) >= limits.max_rows:
                raise _too_many_records(name, limits)
            try:
                value = _loads(line, f"{name}, row {len(entries) + 1} (line {line_no})")
                entries.append((line_no, value, None))
            except json.JSONDecodeError as exc:
                entries.append((line_no, None, f"invalid JSON ({exc.msg} at character {exc.pos})"))
    if not entries:
        raise SamplesError(f"{name} is empty: it has no JSON records.")
    if len(entries) > limits.max_rows:
        raise _too_many_records(name, limits)
    columns = _json_columns(entries, name, limits, long_text=len(text) > limits.max_field_chars)
    builder = _RowBuilder(name, columns)
    samples: list[Sample] = []
    unit = "line" if fmt == "jsonl" else "item"
    for row, (line_no, value, parse_error) in enumerate(entries, start=1):
        errors: list[str] = []
        record: dict[str, Any] = {}
        if parse_error is not None:
            errors.append(builder.problem(row, None, f"{unit} {line_no}: {parse_error}."))
        elif not isinstance(value, dict):
            errors.append(
                builder.problem(
                    row, None, f"{unit} {line_no}: expected a JSON object, got {_kind(value)}."
                )
            )
        else:
            record = {str(k): v for k, v in value.items()}
        samples.append(builder.build(row, record, errors))
    return SampleSet(
        filename=name,
        samples=samples,
        columns=columns,
        encoding=encoding,
        delimiter=None,
        format=fmt,
        problems=builder.problems,
    )


def _too_many_records(name: str, limits: SampleLimits) -> SamplesError:
    return SamplesError(
        f"{name} has more than {limits.max_rows:,} records, the limit for one run. Split it into "
        "smaller files or raise the limit."
    )


def _json_columns(
    entries: Sequence[tuple[int, Any, str | None]],
    name: str,
    limits: SampleLimits,
    *,
    long_text: bool,
) -> list[str]:
    """The distinct keys in first-seen order (linear time; the cap is checked as they come)."""
    columns: dict[str, None] = {}
    for row, (_, value, _) in enumerate(entries, start=1):
        if not isinstance(value, dict):
            continue

        def where(key: str, row: int = row) -> str:
            return f"{name}, row {row}, column '{str(key)[:80]}'"

        _check_fields(value, where, limits, long_text)
        for key in value:
            columns[str(key)] = None
            if len(columns) > limits.max_columns:
                raise SamplesError(
                    f"{name}, row {row}: the records have more than {limits.max_columns} "
                    f"distinct keys, the limit for one file."
                )
    return list(columns)


# ----------------------------------------------------------------------------- pre-flight


def _suggest(missing: str, columns: Sequence[str]) -> list[str]:
    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower())

    exact = [c for c in columns if norm(c) == norm(missing)]
    close = difflib.get_close_matches(missing, list(columns), n=3, cutoff=0.6)
    by_norm = difflib.get_close_matches(norm(missing), [norm(c) for c in columns], n=3, cutoff=0.6)
    out: list[str] = []
    for candidate in [*exact, *close, *[c for c in columns if norm(c) in by_norm]]:
        if candidate not in out:
            out.append(candidate)
    return out[:3]


def preflight(
    sample_set: SampleSet,
    *,
    variables: Iterable[str],
    mapping: Mapping[str, str] | None = None,
    required_expected: Iterable[str] = (),
) -> PreflightReport:
    """Check a samples file against a prompt before any token is spent.

    Every prompt variable must have a column (by name, or through ``mapping`` variable → column),
    rows with parse errors are listed, and empty cells for prompt variables or for the
    ``required_expected`` fields are flagged per row.
    """
    name = sample_set.filename
    wanted = set(variables)
    effective = {**sample_set.mapping, **(mapping or {})}
    problems: list[SampleProblem] = list(sample_set.problems)
    columns = sample_set.columns
    shown = ", ".join(columns) if columns else "(none)"
    expected_columns = {c.lower(): c for c in columns if _expected_field(c)}
    non_variable = {c.lower() for c in columns if c.lower() == MESSAGES_COLUMN} | set(
        expected_columns
    )

    def add(row: int | None, column: str | None, text: str, severity: Severity = "error") -> None:
        where = name if row is None else f"{name}, row {row}"
        if column is not None and row is not None:
            where += f", column '{column}'"
        problems.append(SampleProblem(name, row, column, f"{where}: {text}", severity))

    if not sample_set.samples:
        add(None, None, "the file has no data rows.")

    resolved: dict[str, str] = {}
    for variable in sorted(wanted):
        column = effective.get(variable, variable)
        if column in columns and column.lower() not in non_variable:
            resolved[variable] = column
            continue
        via = f" (mapped to column '{column}')" if column != variable else ""
        if column.lower() in non_variable:
            add(
                None,
                column,
                f"prompt variable '{variable}'{via}: column '{column}' holds "
                f"{'the chat turns' if column.lower() == MESSAGES_COLUMN else 'expected values'} "
                "and cannot fill a prompt variable. Map the variable to another column.",
            )
            continue
        suggestions = _suggest(column, [c for c in columns if c.lower() not in non_variable])
        hint = (
            f" Did you mean {' or '.join(repr(s) for s in suggestions)}? Map the variable to that "
            "column or rename the column."
            if suggestions
            else " Add a column with that name or map the variable to an existing column."
        )
        add(
            None,
            column,
            f"prompt variable '{variable}'{via} has no column. Columns in the file: {shown}.{hint}",
        )
    for variable, column in effective.items():
        if variable not in wanted:
            add(
                None,
                column,
                f"the mapping for '{variable}' → '{column}' is not used: the prompt has no "
                f"variable '{variable}'.",
                "warning",
            )

    required_fields = list(dict.fromkeys(required_expected))
    for field_name in required_fields:
        if (EXPECTED_PREFIX + field_name).lower() not in expected_columns:
            add(
                None,
                EXPECTED_PREFIX + field_name,
                f"no column '{EXPECTED_PREFIX}{field_name}' for the expected value of field "
                f"'{field_name}'. Columns in the file: {shown}.",
            )

    runnable = 0
    for sample in sample_set.samples:
        if sample.error is not None:
            continue  # its problem is already listed
        row_ok = True
        for variable, column in resolved.items():
            value = sample.variables.get(variable, sample.variables.get(column, ""))
            if not value.strip():
                row_ok = False
                via = "" if column == variable else f" (variable '{variable}')"
                add(sample.row, column, f"the cell is empty but the prompt needs it{via}.")
        aligned = align_expected(sample.expected, required_fields)
        for field_name in required_fields:
            column_name = expected_columns.get((EXPECTED_PREFIX + field_name).lower())
            if column_name is not None and field_name not in aligned:
                row_ok = False
                add(sample.row, column_name, f"no expected value for field '{field_name}'.")
        runnable += row_ok
    return PreflightReport(
        filename=name,
        problems=problems,
        sample_count=len(sample_set.samples),
        runnable_count=runnable,
    )
