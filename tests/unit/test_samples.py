"""Samples loading and pre-flight: every bad file gives a clear error or a row-level error."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prompt_playground.errors import SamplesError
from prompt_playground.samples import SampleLimits, load_samples, preflight

BAD = Path(__file__).resolve().parents[1] / "data" / "bad_csv"


@dataclass(frozen=True)
class Case:
    file: str
    rows: int | None = None  # None: the file as a whole is refused
    error_rows: tuple[int, ...] = ()
    says: tuple[str, ...] = ()  # fragments of the file error / the first row error
    limits: SampleLimits = field(default_factory=SampleLimits)


CASES = [
    Case("cp1252_accents.csv", rows=2),
    Case("utf8_bom.csv", rows=2),
    Case("semicolon.csv", rows=3),
    Case("tab.csv", rows=2),
    Case("missing_column.csv", rows=2),
    Case("quotes_newlines.csv", rows=3),
    Case("empty_cells.csv", rows=3),
    Case("empty.csv", says=("empty.csv is empty", "header")),
    Case("whitespace_only.csv", says=("whitespace_only.csv is empty",)),
    Case("header_only.csv", says=("header_only.csv", "no data rows", "chat_json")),
    Case("duplicate_header.csv", says=("duplicate_header.csv", "'chat_json' appears twice")),
    Case("no_header.csv", says=("no_header.csv", "header", "looks like data")),
    Case("binary.csv", says=("binary.csv", "binary")),
    Case(
        "oversize.csv",
        says=("oversize.csv", "limit", "KB"),
        limits=SampleLimits(max_bytes=1024),
    ),
    Case("oversize.csv", says=("oversize.csv", "10 rows"), limits=SampleLimits(max_rows=10)),
    Case(
        "ragged_rows.csv",
        rows=4,
        error_rows=(2, 3),
        says=("ragged_rows.csv, row 2", "4 cells", "3 columns"),
    ),
    Case(
        "invalid_messages.csv",
        rows=5,
        error_rows=(2, 3, 4, 5),
        says=("invalid_messages.csv, row 2, column 'messages'", "invalid JSON"),
    ),
    Case(
        "duplicate_ids.csv",
        rows=3,
        error_rows=(3,),
        says=("duplicate_ids.csv, row 3, column 'id'", "already used by row 1"),
    ),
    Case(
        "unclosed_quote.csv",
        rows=2,
        error_rows=(2,),
        says=("unclosed_quote.csv, row 2", "never closed", "line 3"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.file}-{c.limits.max_rows}")
def test_bad_csv_gives_clear_error_or_row_error_never_a_crash(case: Case) -> None:
    data = (BAD / case.file).read_bytes()
    if case.rows is None:
        with pytest.raises(SamplesError) as caught:
            load_samples(data, case.file, limits=case.limits)
        for fragment in case.says:
            assert fragment in caught.value.message
        return
    loaded = load_samples(data, case.file, limits=case.limits)
    # never a silently dropped row: one sample per data row in the file
    assert loaded.row_count == case.rows
    assert [s.row for s in loaded.samples] == list(range(1, case.rows + 1))
    assert tuple(s.row for s in loaded.samples if s.error) == case.error_rows
    for problem in loaded.problems:
        assert problem.message.startswith(case.file)
    if case.error_rows:
        first_error = next(s.error for s in loaded.samples if s.error)
        assert first_error is not None
        for fragment in case.says:
            assert fragment in first_error


def test_cp1252_file_is_decoded_and_encoding_reported() -> None:
    loaded = load_samples((BAD / "cp1252_accents.csv").read_bytes(), "cp1252_accents.csv")
    assert loaded.encoding.startswith("cp1252")
    assert loaded.samples[0].variables["chat_json"] == "Le café était froid"
    assert loaded.samples[1].variables["chat_json"] == "Prix: 12 € seulement"


def test_bom_is_stripped_from_the_first_header() -> None:
    loaded = load_samples((BAD / "utf8_bom.csv").read_bytes(), "utf8_bom.csv")
    assert loaded.encoding == "UTF-8 with BOM"
    assert loaded.columns == ["id", "chat_json"]
    assert loaded.samples[0].id == "1"
    assert loaded.samples[0].variables["chat_json"] == "Grüße aus Köln"


@pytest.mark.parametrize(
    ("file", "delimiter"), [("semicolon.csv", ";"), ("tab.csv", "\t"), ("utf8_bom.csv", ",")]
)
def test_delimiter_is_sniffed(file: str, delimiter: str) -> None:
    loaded = load_samples((BAD / file).read_bytes(), file)
    assert loaded.delimiter == delimiter
    assert all(s.error is None for s in loaded.samples)


def test_pipe_delimiter_is_sniffed() -> None:
    loaded = load_samples(b"id|text\n1|a, b\n2|c\n", "pipes.csv")
    assert loaded.delimiter == "|"
    assert loaded.samples[0].variables["text"] == "a, b"


def test_quoted_cells_keep_quotes_commas_and_newlines() -> None:
    loaded = load_samples((BAD / "quotes_newlines.csv").read_bytes(), "quotes_newlines.csv")
    first, second, third = loaded.samples
    assert first.variables["chat_json"] == 'She said "hi",\nthen left'
    assert first.expected == {"topics": ["greeting"]}
    assert second.variables["chat_json"] == "line one\r\nline two, with comma"
    assert second.expected == {"topics": []}
    assert third.expected == {}


def test_expected_columns_parse_json_values_and_keep_plain_strings() -> None:
    data = (
        b"id,text,expected_topics,expected_score,expected_flag,expected_label,expected_code\n"
        b'7,hi,"[""a"", ""b""]",4.5,true,positive,007\n'
    )
    sample = load_samples(data, "exp.csv").samples[0]
    assert sample.id == "7"
    assert sample.expected == {
        "topics": ["a", "b"],
        "score": 4.5,
        "flag": True,
        "label": "positive",
        "code": "007",
    }


def test_id_falls_back_to_row_number() -> None:
    loaded = load_samples(b"text\na\nb\n", "noid.csv")
    assert [s.id for s in loaded.samples] == ["1", "2"]


def test_duplicate_ids_are_made_unique_and_flagged() -> None:
    loaded = load_samples((BAD / "duplicate_ids.csv").read_bytes(), "duplicate_ids.csv")
    ids = [s.id for s in loaded.samples]
    assert len(set(ids)) == 3
    assert ids[2] == "a@row3"


def test_messages_column_becomes_a_chat() -> None:
    loaded = load_samples((BAD / "invalid_messages.csv").read_bytes(), "invalid_messages.csv")
    assert loaded.is_chat
    good = loaded.samples[0]
    assert good.messages == [{"role": "user", "content": "hi"}]
    errors = [s.error or "" for s in loaded.samples[1:]]
    assert "invalid JSON" in errors[0]
    assert "expected a JSON list" in errors[1]
    assert "'robot'" in errors[2]
    assert "empty" in errors[3]


def test_jsonl_records_and_bad_lines_are_kept() -> None:
    lines = [
        json.dumps({"id": "a", "chat_json": [{"role": "user", "content": "hi"}], "expected_n": 3}),
        "{not json",
        json.dumps(["not", "an", "object"]),
        "",
        json.dumps({"id": "d", "chat_json": "plain"}),
    ]
    loaded = load_samples("\n".join(lines).encode(), "s.jsonl")
    assert loaded.format == "jsonl"
    assert loaded.row_count == 4
    first = loaded.samples[0]
    assert json.loads(first.variables["chat_json"]) == [{"role": "user", "content": "hi"}]
    assert first.expected == {"n": 3}
    assert "s.jsonl, row 2" in (loaded.samples[1].error or "")
    assert "line 2" in (loaded.samples[1].error or "")
    assert "expected a JSON object" in (loaded.samples[2].error or "")
    assert loaded.samples[3].error is None


def test_format_is_sniffed_without_a_known_extension() -> None:
    loaded = load_samples(b'{"text": "a"}\n{"text": "b"}\n', "upload")
    assert loaded.format == "jsonl"
    assert loaded.row_count == 2
    assert load_samples(b"text;n\na;1\n", "upload").delimiter == ";"


def test_preflight_names_file_missing_variable_columns_and_suggestion() -> None:
    loaded = load_samples((BAD / "missing_column.csv").read_bytes(), "missing_column.csv")
    report = preflight(loaded, variables={"chat_json"})
    assert not report.ok
    (problem,) = report.errors
    assert problem.file == "missing_column.csv"
    assert problem.column == "chat_json"
    for fragment in ("missing_column.csv", "'chat_json'", "id, chat, expected_sentiment", "'chat'"):
        assert fragment in problem.message
    with pytest.raises(SamplesError, match="prompt variable 'chat_json' has no column"):
        report.raise_for_errors()


def test_preflight_passes_with_an_explicit_mapping() -> None:
    data = (BAD / "missing_column.csv").read_bytes()
    loaded = load_samples(data, "missing_column.csv", mapping={"chat_json": "chat"})
    assert loaded.samples[0].variables["chat_json"] == "hello"
    report = preflight(loaded, variables={"chat_json"}, required_expected=["sentiment"])
    assert report.ok, report.problems
    assert report.runnable_count == 2
    report.raise_for_errors()


def test_preflight_flags_empty_cells_per_row_and_column() -> None:
    loaded = load_samples((BAD / "empty_cells.csv").read_bytes(), "empty_cells.csv")
    report = preflight(loaded, variables={"chat_json"}, required_expected=["sentiment"])
    located = [(p.row, p.column) for p in report.errors]
    assert located == [(2, "chat_json"), (3, "chat_json"), (3, "expected_sentiment")]
    assert all(p.message.startswith("empty_cells.csv, row ") for p in report.errors)
    assert report.runnable_count == 1


def test_preflight_lists_row_errors_and_missing_expected_column() -> None:
    loaded = load_samples((BAD / "ragged_rows.csv").read_bytes(), "ragged_rows.csv")
    report = preflight(loaded, variables={"chat_json"}, required_expected=["urgency"])
    rows = {p.row for p in report.errors}
    assert {2, 3, None} <= rows
    assert any("expected_urgency" in p.message for p in report.errors)


def test_unused_mapping_is_a_warning_not_an_error() -> None:
    loaded = load_samples(b"text\nhi\n", "w.csv")
    report = preflight(loaded, variables={"text"}, mapping={"other": "text"})
    assert report.ok
    assert "not used" in report.warnings[0].message


def test_describe_summarises_the_file() -> None:
    loaded = load_samples((BAD / "semicolon.csv").read_bytes(), "semicolon.csv")
    assert loaded.describe() == "3 rows, 3 columns, UTF-8, semicolon-separated"


def test_json_array_and_utf16_files_load() -> None:
    as_json = json.dumps([{"id": "x", "text": "a"}, {"id": "y", "text": "b"}]).encode()
    loaded = load_samples(as_json, "s.json")
    assert loaded.format == "json"
    assert [s.id for s in loaded.samples] == ["x", "y"]
    utf16 = "id\ttext\n1\tÄpfel\n".encode("utf-16")
    loaded = load_samples(utf16, "excel.txt")
    assert loaded.encoding == "UTF-16"
    assert loaded.samples[0].variables["text"] == "Äpfel"


def test_special_columns_cannot_fill_a_prompt_variable() -> None:
    loaded = load_samples((BAD / "invalid_messages.csv").read_bytes(), "invalid_messages.csv")
    report = preflight(loaded, variables={"messages"})
    assert any("holds the chat turns" in p.message for p in report.errors)
