"""Hostile samples files: huge key sets, deep nesting, oversized cells and NUL bytes all end in a
``SamplesError`` naming the file (and row and column where there is one), never another exception.
"""

from __future__ import annotations

import json

import pytest

from prompt_playground.errors import SamplesError
from prompt_playground.samples import (
    MAX_JSON_DEPTH,
    SampleLimits,
    align_expected,
    load_samples,
    preflight,
)


def jsonl(*records: object) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --------------------------------------------------------------------------- columns


def test_the_column_cap_is_enforced_while_reading_and_names_the_row() -> None:
    # 3 rows of 300 distinct keys each: row 2 takes the file over the 500-column cap.
    rows = [{f"k{r}_{i}": "x" for i in range(300)} for r in range(3)]
    with pytest.raises(SamplesError) as caught:
        load_samples(jsonl(*rows), "wide.jsonl")
    assert "wide.jsonl, row 2" in caught.value.message
    assert "500 distinct keys" in caught.value.message


def test_a_row_with_100k_distinct_keys_is_refused() -> None:
    row = {f"key{i}": i for i in range(100_000)}
    with pytest.raises(SamplesError, match=r"wide\.jsonl, row 1"):
        load_samples(jsonl(row), "wide.jsonl")


def test_columns_keep_first_seen_order_across_rows() -> None:
    loaded = load_samples(jsonl({"b": "1", "a": "2"}, {"c": "3", "a": "4"}), "order.jsonl")
    assert loaded.columns == ["b", "a", "c"]


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deep_nesting_in_a_jsonl_record_names_file_and_row(depth: int) -> None:
    data = f'{{"text": "ok"}}\n{{"text": {nested(depth)}}}\n'.encode()
    with pytest.raises(SamplesError) as caught:
        load_samples(data, "deep.jsonl")
    assert "deep.jsonl, row 2 (line 2)" in caught.value.message
    assert f"deeper than {MAX_JSON_DEPTH}" in caught.value.message


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_deep_nesting_in_a_json_document_names_the_file(depth: int) -> None:
    with pytest.raises(SamplesError, match=r"deep\.json: the JSON nests deeper"):
        load_samples(f'[{{"text": {nested(depth)}}}]'.encode(), "deep.json")


@pytest.mark.parametrize("column", ["messages", "expected_label"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000])
def test_deep_nesting_in_a_json_cell_names_file_row_and_column(column: str, depth: int) -> None:
    cell = '"' + nested(depth) + '"'
    data = f"id,{column}\n1,[]\n2,{cell}\n".encode()
    with pytest.raises(SamplesError) as caught:
        load_samples(data, "cells.csv")
    assert f"cells.csv, row 2, column '{column}'" in caught.value.message


def test_nesting_within_the_bound_still_loads() -> None:
    value = nested(MAX_JSON_DEPTH - 2)
    loaded = load_samples(f'{{"text": "hi", "expected_x": {value}}}\n'.encode(), "ok.jsonl")
    assert loaded.samples[0].error is None


# --------------------------------------------------------------------------- field size


def test_an_oversized_jsonl_value_is_refused_naming_row_and_column() -> None:
    data = jsonl({"text": "short"}, {"text": "x" * 200_000})
    with pytest.raises(SamplesError) as caught:
        load_samples(data, "big.jsonl")
    assert "big.jsonl, row 2, column 'text'" in caught.value.message
    assert "131,072 characters" in caught.value.message


def test_an_oversized_nested_value_is_refused() -> None:
    data = jsonl({"text": "a", "expected_topics": ["y" * 1000] * 200})
    with pytest.raises(SamplesError, match="column 'expected_topics'"):
        load_samples(data, "big.jsonl")


def test_an_oversized_json_document_value_is_refused() -> None:
    data = json.dumps([{"text": "x" * 50}]).encode()
    with pytest.raises(SamplesError, match=r"big\.json, row 1, column 'text'"):
        load_samples(data, "big.json", limits=SampleLimits(max_field_chars=10))


@pytest.mark.parametrize("size", [2_000, 200_000])
def test_an_oversized_csv_cell_is_refused_with_the_limit(size: int) -> None:
    data = b"id,text\n1,ok\n2," + b"x" * size + b"\n"
    with pytest.raises(SamplesError) as caught:
        load_samples(data, "big.csv", limits=SampleLimits(max_field_chars=1_000))
    message = caught.value.message
    assert "big.csv" in message
    assert "longer than 1,000 characters" in message


def test_the_csv_cell_cap_names_row_and_column() -> None:
    data = b"id,text\n1,ok\n2," + b"x" * 2_000 + b"\n"
    with pytest.raises(SamplesError, match=r"big\.csv, row 2, column 'text'"):
        load_samples(data, "big.csv", limits=SampleLimits(max_field_chars=1_000))


# --------------------------------------------------------------------------- NUL bytes


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"])
def test_a_nul_byte_after_the_first_8kb_is_refused_with_its_line(prefix: bytes) -> None:
    body = b"".join(b"%d,hello there\n" % i for i in range(1, 2_000))
    data = prefix + b"id,text\n" + body + b"2000,bad\x00cell\n"
    assert len(data) > 8192
    with pytest.raises(SamplesError) as caught:
        load_samples(data, "nul.csv")
    assert "nul.csv, line 2001" in caught.value.message
    assert "NUL" in caught.value.message


def test_a_nul_character_escaped_in_jsonl_is_refused_naming_row_and_column() -> None:
    with pytest.raises(SamplesError, match=r"nul\.jsonl, row 1, column 'text'.*NUL"):
        load_samples(b'{"text": "a\\u0000b"}\n', "nul.jsonl")


def test_utf16_text_is_not_mistaken_for_nul_bytes() -> None:
    data = "id,text\n1,hello\n".encode("utf-16")
    assert load_samples(data, "u16.csv").samples[0].variables["text"] == "hello"


# --------------------------------------------------------------------------- expected columns


def test_expected_column_case_maps_to_the_schema_field() -> None:
    loaded = load_samples(b"id,text,Expected_Sentiment\n1,hi,positive\n", "cased.csv")
    report = preflight(loaded, variables=["text"], required_expected=["sentiment"])
    assert report.ok, report.summary()
    assert align_expected(loaded.samples[0].expected, ["sentiment", "urgent"]) == {
        "sentiment": "positive"
    }


def test_an_exact_expected_name_wins_over_a_case_variant() -> None:
    expected = {"Sentiment": "a", "sentiment": "b", "other": 1}
    assert align_expected(expected, ["sentiment"]) == {"sentiment": "b", "other": 1}


# --------------------------------------------------------------------------- delimiters


def test_a_header_holding_several_delimiter_candidates_is_split_on_the_right_one() -> None:
    data = (
        b"id;Name, first, middle, last;text\n"
        b"1;Ann Lee;Where is my parcel?\n"
        b"2;Bo Chen;The app crashes | again\n"
        b"3;Cy Diaz;Refund please\n"
    )
    loaded = load_samples(data, "names.csv")
    assert loaded.delimiter == ";"
    assert loaded.columns == ["id", "Name, first, middle, last", "text"]
    assert all(s.error is None for s in loaded.samples)
    assert loaded.samples[1].variables["text"] == "The app crashes | again"


def test_the_csv_modules_own_cap_is_the_one_named_when_it_is_lower() -> None:
    data = b"id,text\n1," + b"x" * 200_000 + b"\n"
    with pytest.raises(SamplesError, match="longer than 131,072 characters"):
        load_samples(data, "big.csv", limits=SampleLimits(max_field_chars=1_000_000))
