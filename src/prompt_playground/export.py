"""Export run results as CSV, JSONL or Parquet, in a long (one row per sample and variant) or a
wide (one row per sample) shape.

The long shape is a contract people script against; its columns and their order only grow at
the ends, never move::

    sample_id, variant, prompt_name, prompt_version, output.<field>..., error, attempts,
    latency_ms, input_tokens, output_tokens, cost_usd, trace_id, trace_url, expected_<field>...,
    repeat

``repeat`` (1..N) says which of a (sample, variant)'s N calls a row is; the wide shape shows
each field's majority value over the repeats.

Lists and objects are JSON-encoded in every format, so a column holds the same values whatever
the format. In CSV only, a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a
carriage return or a NUL is prefixed with ``'`` so spreadsheets do not run it as a formula
(some strip a leading NUL and then read the ``=`` behind it).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO, get_args

from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Result

if TYPE_CHECKING:
    import pandas as pd

Format = Literal["csv", "jsonl", "parquet"]
Shape = Literal["long", "wide"]

FORMATS: tuple[str, ...] = get_args(Format)
SHAPES: tuple[str, ...] = get_args(Shape)
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
}

LEAD_COLUMNS = ("sample_id", "variant", "prompt_name", "prompt_version")
RUN_COLUMNS = (
    "error",
    "attempts",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "trace_id",
    "trace_url",
)
_DTYPES: dict[str, str] = {
    "sample_id": "str",
    "variant": "str",
    "prompt_name": "str",
    "prompt_version": "Int64",
    "error": "str",
    "attempts": "Int64",
    "latency_ms": "Float64",
    "input_tokens": "Int64",
    "output_tokens": "Int64",
    "cost_usd": "Float64",
    "trace_id": "str",
    "trace_url": "str",
    "repeat": "Int64",
}

#: What a CSV text cell may not start with unquoted; the README lists every one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\x00")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class ExportError(PlaygroundError):
    """Results cannot be exported as asked (unknown format or shape, clashing column names)."""


# --------------------------------------------------------------------------- column helpers


def output_column(field_name: str, variant: str | None = None) -> str:
    """``output.<field>`` (long) or ``output.<field>.<variant>`` (wide)."""
    return f"output.{field_name}" if variant is None else f"output.{field_name}.{variant}"


def expected_column(field_name: str) -> str:
    return f"expected_{field_name}"


def long_columns(fields: Sequence[str], expected_fields: Sequence[str] = ()) -> list[str]:
    """The long shape's columns, in their contractual order."""
    return [
        *LEAD_COLUMNS,
        *(output_column(f) for f in fields),
        *RUN_COLUMNS,
        *(expected_column(f) for f in expected_fields),
        "repeat",
    ]


def _fields_of(results: Sequence[Result]) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        for name in r.output or {}:
            seen.setdefault(name, None)
    return list(seen)


def _expected_fields_of(results: Sequence[Result]) -> list[str]:
    seen: dict[str, None] = {}
    for r in results:
        for name in r.expected:
            seen.setdefault(name, None)
    return list(seen)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _series(values: list[Any]) -> pd.Series[Any]:
    """A typed column: nullable bool/int/float when every value fits, else text (lists, objects
    and stray scalars JSON-encoded)."""
    import pandas as pd

    present = [v for v in values if not _is_missing(v)]
    cleaned = [None if _is_missing(v) else v for v in values]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(cleaned, dtype="boolean")
    if present and all(
        isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63 for v in present
    ):
        return pd.Series(cleaned, dtype="Int64")
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series(cleaned, dtype="Float64")
    text = [v if v is None or isinstance(v, str) else _json(v) for v in cleaned]
    return pd.Series(text, dtype="str")


def _frame(columns: dict[str, list[Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    import pandas as pd

    data: dict[str, Any] = {}
    for name, values in columns.items():
        dtype = dtypes.get(name)
        if dtype is None:
            data[name] = _series(values)
        elif dtype == "str":
            data[name] = pd.Series(values, dtype="str")
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, columns=list(columns))


def _check_unique(columns: Sequence[str]) -> None:
    seen: set[str] = set()
    clashes: set[str] = set()
    for column in columns:
        (clashes if column in seen else seen).add(column)
    if clashes:
        raise ExportError(
            f"Two fields or variants give the same export column: {', '.join(sorted(clashes))}. "
            "Rename a field or a variant, or export the long shape."
        )


# --------------------------------------------------------------------------- shapes


def to_long(
    results: Iterable[Result],
    fields: Sequence[str] | None = None,
    expected_fields: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per result, columns in the contractual order (see the module docstring).

    Args:
        results: the results, in the order the rows should have.
        fields: output fields (schema order); default: every output key seen, in first-seen order.
        expected_fields: fields with ``expected_<field>`` columns; default: every expected key seen.
    """
    results = list(results)
    fields = list(_fields_of(results) if fields is None else fields)
    expected_fields = list(
        _expected_fields_of(results) if expected_fields is None else expected_fields
    )
    names = long_columns(fields, expected_fields)
    _check_unique(names)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for r in results:
        output = r.output or {}
        columns["sample_id"].append(r.sample_id)
        columns["variant"].append(r.variant)
        columns["prompt_name"].append(r.prompt_name)
        columns["prompt_version"].append(r.prompt_version)
        for f in fields:
            columns[output_column(f)].append(output.get(f))
        columns["error"].append(r.error)
        columns["attempts"].append(r.attempts)
        columns["latency_ms"].append(r.latency_ms)
        columns["input_tokens"].append(r.input_tokens)
        columns["output_tokens"].append(r.output_tokens)
        columns["cost_usd"].append(r.cost_usd)
        columns["trace_id"].append(r.trace_id)
        columns["trace_url"].append(r.trace_url)
        for f in expected_fields:
            columns[expected_column(f)].append(r.expected.get(f))
        columns["repeat"].append(r.repeat)
    return _frame(columns, _DTYPES)


def to_wide(
    results: Iterable[Result],
    fields: Sequence[str] | None = None,
    expected_fields: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per sample: ``sample_id``, ``output.<field>.<variant>`` (field-major),
    ``error.<variant>``, then ``expected_<field>``.

    A sample a variant has no result for has blank cells (no output, no error). A repeated
    (sample, variant) shows each field's majority value over its valid answers, and its errors
    as ``k/N failed: <first error>``.
    """
    from prompt_playground.statistics import majority

    results = list(results)
    fields = list(_fields_of(results) if fields is None else fields)
    expected_fields = list(
        _expected_fields_of(results) if expected_fields is None else expected_fields
    )
    if variants is None:
        variants = list(dict.fromkeys(r.variant for r in results))
    variants = list(dict.fromkeys(variants))
    wanted = set(variants)
    by_sample: dict[str, dict[str, list[Result]]] = {}
    for r in results:
        if r.variant in wanted:
            by_sample.setdefault(r.sample_id, {}).setdefault(r.variant, []).append(r)

    names = [
        "sample_id",
        *(output_column(f, v) for f in fields for v in variants),
        *(f"error.{v}" for v in variants),
        *(expected_column(f) for f in expected_fields),
    ]
    _check_unique(names)
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for sample_id, row in by_sample.items():
        columns["sample_id"].append(sample_id)
        for f in fields:
            for v in variants:
                answers = [r.output[f] for r in row.get(v, []) if r.output and f in r.output]
                found = majority(answers)
                columns[output_column(f, v)].append(found.value if found is not None else None)
        for v in variants:
            columns[f"error.{v}"].append(_errors(row.get(v, [])))
        for f in expected_fields:
            value = next(
                (
                    r.expected[f]
                    for rs in row.values()
                    for r in rs
                    if not _is_missing(r.expected.get(f))
                ),
                None,
            )
            columns[expected_column(f)].append(value)
    dtypes = {"sample_id": "str", **{f"error.{v}": "str" for v in variants}}
    return _frame(columns, dtypes)


def _errors(results: Sequence[Result]) -> str | None:
    """One call's error, or ``k/N failed: <first error>`` over a (sample, variant)'s repeats."""
    failed = [r.error for r in results if r.error is not None]
    if not failed:
        return None
    if len(results) == 1:
        return failed[0]
    return f"{len(failed)}/{len(results)} failed: {failed[0]}"


# --------------------------------------------------------------------------- formats


def neutralize_cell(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula; plain numbers stay as they are."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_string_dtype(column.dtype):
            out[name] = pd.Series(
                [v if _is_missing(v) else neutralize_cell(v) for v in column.tolist()],
                dtype="str",
                index=column.index,
            )
    return out


def _jsonl(frame: pd.DataFrame) -> bytes:
    import pandas as pd

    names = list(frame.columns)
    lines = []
    for row in frame.itertuples(index=False, name=None):
        record = {
            name: None if pd.isna(value) else value.item() if hasattr(value, "item") else value
            for name, value in zip(names, row, strict=True)
        }
        lines.append(json.dumps(record, ensure_ascii=False, allow_nan=False))
    return ("\n".join(lines) + "\n" if lines else "").encode("utf-8")


def to_bytes(frame: pd.DataFrame, fmt: Format) -> bytes:
    """Serialize an export frame (from :func:`to_long` or :func:`to_wide`)."""
    _check_choice("format", fmt, FORMATS)
    if fmt == "csv":
        text = _neutralized(frame).to_csv(index=False, lineterminator="\n")
        return text.encode("utf-8")
    if fmt == "jsonl":
        return _jsonl(frame)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ExportError(f"Unknown export {what} {value!r}. Choose one of: {', '.join(allowed)}.")


def export_frame(
    results: Iterable[Result],
    shape: Shape = "long",
    *,
    fields: Sequence[str] | None = None,
    expected_fields: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The export table of the given shape (``variants`` only matters for the wide shape)."""
    _check_choice("shape", shape, SHAPES)
    if shape == "long":
        if variants is not None:
            wanted = set(variants)
            results = [r for r in results if r.variant in wanted]
        return to_long(results, fields, expected_fields)
    return to_wide(results, fields, expected_fields, variants)


def export_bytes(
    results: Iterable[Result],
    fmt: Format = "csv",
    shape: Shape = "long",
    *,
    fields: Sequence[str] | None = None,
    expected_fields: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
) -> bytes:
    """The export file's bytes, e.g. for a download button."""
    _check_choice("format", fmt, FORMATS)
    frame = export_frame(
        results, shape, fields=fields, expected_fields=expected_fields, variants=variants
    )
    return to_bytes(frame, fmt)


def export_filename(run_id: str, fmt: Format, shape: Shape = "long") -> str:
    """A file name for a download: ``run-<id>-long.csv`` (unsafe characters replaced)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "run"
    return f"run-{safe}-{shape}.{fmt}"


def write_export(
    results: Iterable[Result],
    path_or_buffer: str | os.PathLike[str] | BinaryIO | TextIO,
    fmt: Format = "csv",
    shape: Shape = "long",
    *,
    fields: Sequence[str] | None = None,
    expected_fields: Sequence[str] | None = None,
    variants: Sequence[str] | None = None,
) -> None:
    """Write results to a file path or an open file (binary; text is accepted for CSV/JSONL).

    Raises:
        ExportError: unknown format or shape, clashing column names, or parquet to a text file.
    """
    data = export_bytes(
        results, fmt, shape, fields=fields, expected_fields=expected_fields, variants=variants
    )
    if isinstance(path_or_buffer, str | os.PathLike):
        with open(path_or_buffer, "wb") as handle:
            handle.write(data)
        return
    if isinstance(path_or_buffer, io.TextIOBase):
        if fmt == "parquet":
            raise ExportError("Parquet is binary: open the file with 'wb', not 'w'.")
        path_or_buffer.write(data.decode("utf-8"))
        return
    path_or_buffer.write(data)  # type: ignore[arg-type]
