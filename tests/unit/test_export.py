"""Exports: the long shape's column contract, the wide shape, formats, formula injection."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from prompt_playground.errors import PlaygroundError
from prompt_playground.export import (
    MEDIA_TYPES,
    ExportError,
    export_bytes,
    export_filename,
    neutralize_cell,
    to_long,
    to_wide,
    write_export,
)
from prompt_playground.models import Result

FIELDS = ["sentiment", "urgent", "score", "count", "tags", "meta", "summary"]
EXPECTED = ["sentiment", "tags"]


def result(sample_id: str, variant: str, output: dict[str, Any] | None, **extra: Any) -> Result:
    defaults: dict[str, Any] = {
        "run_id": "r1",
        "prompt_name": "triage",
        "prompt_version": 2 if variant == "v2" else 1,
        "attempts": 1,
        "latency_ms": 123.5,
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": 0.0012,
        "trace_id": f"trace-{sample_id}-{variant}",
        "trace_url": f"http://127.0.0.1:3000/trace/{sample_id}-{variant}",
        "expected": {"sentiment": "positive", "tags": "billing;refund"},
    }
    defaults.update(extra)
    return Result(sample_id=sample_id, variant=variant, output=output, **defaults)


def output(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sentiment": "positive",
        "urgent": False,
        "score": -0.25,
        "count": 3,
        "tags": ["billing", "réfund"],
        "meta": {"lang": "de", "nested": [1, 2]},
        "summary": "Kunde ist zufrieden 😀 — 顧客",
    }
    base.update(values)
    return base


@pytest.fixture
def results() -> list[Result]:
    return [
        result("1", "production", output()),
        result("1", "v2", output(sentiment="negative", urgent=True, count=-4, score=None)),
        result(
            "2",
            "production",
            None,
            error="Validation failed after 3 attempts: sentiment",
            attempts=3,
            cost_usd=None,
            output_tokens=None,
        ),
        result("2", "v2", output(summary='=HYPERLINK("http://evil")', tags=["-1 ok", "@x"])),
    ]


LONG_HEAD = ["sample_id", "variant", "prompt_name", "prompt_version"]
LONG_RUN = [
    "error",
    "attempts",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "trace_id",
    "trace_url",
]


# --------------------------------------------------------------------------- long shape


def test_long_columns_follow_the_contract_exactly(results: list[Result]) -> None:
    frame = to_long(results, FIELDS, EXPECTED)
    assert list(frame.columns) == [
        *LONG_HEAD,
        *(f"output.{f}" for f in FIELDS),
        *LONG_RUN,
        "expected_sentiment",
        "expected_tags",
        "repeat",
    ]
    assert len(frame) == 4


def test_long_types_are_kept_and_lists_and_objects_json_encoded(results: list[Result]) -> None:
    frame = to_long(results, FIELDS, EXPECTED)
    assert str(frame["prompt_version"].dtype) == "Int64"
    assert str(frame["attempts"].dtype) == "Int64"
    assert str(frame["output_tokens"].dtype) == "Int64"
    assert str(frame["output.count"].dtype) == "Int64"
    assert str(frame["output.urgent"].dtype) == "boolean"
    assert str(frame["output.score"].dtype) == "Float64"
    assert str(frame["cost_usd"].dtype) == "Float64"
    assert json.loads(frame["output.tags"][0]) == ["billing", "réfund"]
    assert json.loads(frame["output.meta"][0]) == {"lang": "de", "nested": [1, 2]}
    assert frame["output.count"].tolist()[:3] == [3, -4, pd.NA]
    assert frame["error"].isna().tolist() == [True, True, False, True]


def test_long_defaults_to_every_field_seen(results: list[Result]) -> None:
    frame = to_long(results)
    assert [c for c in frame.columns if c.startswith("output.")] == [
        f"output.{f}" for f in ["sentiment", "urgent", "score", "count", "tags", "meta", "summary"]
    ]
    assert [c for c in frame.columns if c.startswith("expected_")] == [
        "expected_sentiment",
        "expected_tags",
    ]


# --------------------------------------------------------------------------- wide shape


def test_wide_has_one_row_per_sample_and_a_column_per_field_and_variant(
    results: list[Result],
) -> None:
    frame = to_wide(results, ["sentiment", "count"], ["sentiment"])
    assert list(frame.columns) == [
        "sample_id",
        "output.sentiment.production",
        "output.sentiment.v2",
        "output.count.production",
        "output.count.v2",
        "error.production",
        "error.v2",
        "expected_sentiment",
    ]
    assert frame["sample_id"].tolist() == ["1", "2"]
    assert frame["output.sentiment.v2"].tolist() == ["negative", "positive"]
    assert frame["output.count.production"].tolist() == [3, pd.NA]
    assert str(frame["output.count.v2"].dtype) == "Int64"
    assert frame["error.production"].isna().tolist() == [True, False]
    assert frame["expected_sentiment"].tolist() == ["positive", "positive"]


def test_wide_with_chosen_variants_and_a_missing_result(results: list[Result]) -> None:
    frame = to_wide(results[:1], ["sentiment"], [], variants=["v2", "production"])
    assert list(frame.columns) == [
        "sample_id",
        "output.sentiment.v2",
        "output.sentiment.production",
        "error.v2",
        "error.production",
    ]
    assert frame["output.sentiment.v2"].isna().all()


def test_wide_refuses_clashing_column_names() -> None:
    clash = [result("1", "b.c", {"a": 1, "a.b": 2}), result("1", "c", {"a": 1, "a.b": 2})]
    with pytest.raises(ExportError, match=r"output\.a\.b\.c") as info:
        to_wide(clash, ["a", "a.b"], [])
    assert isinstance(info.value, PlaygroundError)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_parquet_round_trip_keeps_types(results: list[Result], shape: str) -> None:
    data = export_bytes(results, "parquet", shape, fields=FIELDS, expected_fields=EXPECTED)  # type: ignore[arg-type]
    back = pd.read_parquet(io.BytesIO(data))
    expected = (
        to_long(results, FIELDS, EXPECTED)
        if shape == "long"
        else to_wide(results, FIELDS, EXPECTED)
    )
    pd.testing.assert_frame_equal(back, expected)


def test_csv_round_trip(results: list[Result], tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    write_export(results, path, "csv", "long", fields=FIELDS, expected_fields=EXPECTED)
    back = pd.read_csv(path, dtype={"sample_id": str}, keep_default_na=True)
    frame = to_long(results, FIELDS, EXPECTED)
    assert list(back.columns) == list(frame.columns)
    assert back["sample_id"].tolist() == ["1", "1", "2", "2"]
    assert back["output.summary"][0] == "Kunde ist zufrieden 😀 — 顧客"
    assert json.loads(back["output.tags"][0]) == ["billing", "réfund"]
    assert back["output.count"].tolist()[:2] == [3, -4]  # negative numbers stay numbers
    assert back["output.score"][0] == pytest.approx(-0.25)
    assert back["latency_ms"].tolist() == [123.5] * 4
    assert back["error"][2] == "Validation failed after 3 attempts: sentiment"
    assert back["trace_url"][0] == "http://127.0.0.1:3000/trace/1-production"


def test_jsonl_round_trip(results: list[Result]) -> None:
    data = export_bytes(results, "jsonl", "long", fields=FIELDS, expected_fields=EXPECTED)
    lines = data.decode("utf-8").splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert list(first) == list(to_long(results, FIELDS, EXPECTED).columns)
    assert first["output.count"] == 3
    assert first["output.urgent"] is False
    assert first["output.summary"] == "Kunde ist zufrieden 😀 — 顧客"
    assert "😀" in data.decode("utf-8")  # not \\u-escaped
    third = json.loads(lines[2])
    assert third["cost_usd"] is None
    assert third["output.sentiment"] is None
    back = pd.read_json(io.BytesIO(data), lines=True, dtype={"sample_id": str})
    assert back["sample_id"].tolist() == ["1", "1", "2", "2"]
    assert back["output.summary"][3] == '=HYPERLINK("http://evil")'  # only CSV is neutralized


# --------------------------------------------------------------------------- formula injection


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-1 ok", "'-1 ok"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\x00=1+1", "'\x00=1+1"),
        ("-1", "-1"),
        ("+3.5e2", "+3.5e2"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralize_cell(text: str, written: str) -> None:
    assert neutralize_cell(text) == written


def test_csv_neutralizes_formula_cells_but_not_numbers(results: list[Result]) -> None:
    data = export_bytes(results, "csv", "long", fields=FIELDS, expected_fields=EXPECTED)
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert back["output.summary"][3] == '\'=HYPERLINK("http://evil")'
    assert back["output.count"][1] == "-4"  # a negative number in a number column
    assert back["output.score"][0] == "-0.25"
    assert json.loads(back["output.tags"][3]) == ["-1 ok", "@x"]  # JSON starts with '['
    for column in back.columns:
        for cell in back[column]:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, cell)
            assert not (cell.startswith("-") and not cell[1:].replace(".", "").isdigit())


def test_csv_neutralizes_user_supplied_ids_and_errors() -> None:
    evil = [
        result("=cmd|' /C calc'!A0", "v1", {"x": "-2+3"}, error=None),
        result("2", "v1", None, error="@import failed"),
    ]
    data = export_bytes(evil, "csv", "wide", fields=["x"], expected_fields=[])
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert back["sample_id"].tolist() == ["'=cmd|' /C calc'!A0", "2"]
    assert back["output.x.v1"][0] == "'-2+3"
    assert back["error.v1"][1] == "'@import failed"


def test_wide_csv_of_a_text_column_with_numeric_strings_keeps_them() -> None:
    rows = [result("1", "v1", {"code": "-12"}), result("2", "v1", {"code": "=A1"})]
    data = export_bytes(rows, "csv", "long", fields=["code"], expected_fields=[])
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert back["output.code"].tolist() == ["-12", "'=A1"]


# --------------------------------------------------------------------------- edges


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("shape", ["long", "wide"])
def test_empty_results_export_the_header_only(fmt: str, shape: str) -> None:
    data = export_bytes([], fmt, shape, fields=["sentiment"], expected_fields=["sentiment"])  # type: ignore[arg-type]
    if fmt == "csv":
        header = data.decode("utf-8").strip()
        assert header.startswith("sample_id,")
        assert "sentiment" in header
    elif fmt == "jsonl":
        assert data == b""
    else:
        back = pd.read_parquet(io.BytesIO(data))
        assert len(back) == 0
        assert back.columns[0] == "sample_id"


def test_unknown_format_or_shape_is_a_clear_error(results: list[Result]) -> None:
    with pytest.raises(ExportError, match="Choose one of: csv, jsonl, parquet"):
        export_bytes(results, "xlsx")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="Choose one of: long, wide"):
        export_bytes(results, "csv", "tall")  # type: ignore[arg-type]


def test_write_export_to_binary_and_text_buffers(results: list[Result]) -> None:
    binary = io.BytesIO()
    write_export(results, binary, "parquet", "wide", fields=FIELDS)
    assert len(pd.read_parquet(io.BytesIO(binary.getvalue()))) == 2
    text = io.StringIO()
    write_export(results, text, "jsonl", "long", fields=FIELDS)
    assert len(text.getvalue().splitlines()) == 4
    with pytest.raises(ExportError, match="binary"):
        write_export(results, io.StringIO(), "parquet")


def test_long_export_can_be_limited_to_some_variants(results: list[Result]) -> None:
    data = export_bytes(results, "csv", "long", fields=FIELDS, variants=["v2"])
    back = pd.read_csv(io.BytesIO(data), dtype=str)
    assert back["variant"].tolist() == ["v2", "v2"]


def test_download_helpers() -> None:
    assert export_filename("run 7/../x", "parquet", "wide") == "run-run-7-..-x-wide.parquet"
    assert MEDIA_TYPES["csv"] == "text/csv"


def test_integers_beyond_int64_are_exported_without_overflow() -> None:
    rows = [result("1", "v1", {"n": 2**70}), result("2", "v1", {"n": 1})]
    frame = to_long(rows, ["n"], [])
    assert frame["output.n"].tolist() == [float(2**70), 1.0]
