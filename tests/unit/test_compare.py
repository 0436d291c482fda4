"""Comparison of variants: agreement, diffs, metrics, accuracy, scores, side-by-side table."""

from __future__ import annotations

from typing import Any

import pytest

from prompt_playground.compare import (
    Diff,
    accuracy_scores,
    compare,
    field_kinds,
    percentile,
    render_change,
    schema_fields,
    score_field,
    values_agree,
)
from prompt_playground.compare_views import (
    accuracy_table,
    agreement_table,
    highlight_mask,
    metrics_table,
    side_by_side,
)
from prompt_playground.errors import PlaygroundError, SchemaError
from prompt_playground.models import Result

SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {"Sentiment": {"enum": ["positive", "negative", "neutral"], "type": "string"}},
    "properties": {
        "sentiment": {"$ref": "#/$defs/Sentiment"},
        "urgent": {"type": "boolean"},
        "score": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
        "tags": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    },
    "required": ["sentiment", "urgent", "tags", "summary"],
}


def result(
    sample_id: str,
    variant: str,
    output: dict[str, Any] | None = None,
    *,
    error: str | None = None,
    expected: dict[str, Any] | None = None,
    **extra: Any,
) -> Result:
    return Result(
        run_id="run-1",
        sample_id=sample_id,
        variant=variant,
        prompt_name="triage",
        prompt_version=int(variant[1:]) if variant.startswith("v") else 1,
        output=output,
        error=error,
        expected=expected or {},
        **extra,
    )


def out(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sentiment": "positive",
        "urgent": False,
        "score": 0.5,
        "tags": ["billing"],
        "summary": "Customer is happy",
    }
    base.update(values)
    return base


# --------------------------------------------------------------------------- schema kinds


def test_field_kinds_resolves_refs_nullable_unions_and_keeps_schema_order() -> None:
    kinds = field_kinds(SCHEMA)
    assert list(kinds) == ["sentiment", "urgent", "score", "tags", "summary"]
    assert kinds == {
        "sentiment": "enum",
        "urgent": "boolean",
        "score": "number",
        "tags": "list",
        "summary": "string",
    }


def test_field_kinds_handles_type_lists_allof_and_root_ref() -> None:
    schema = {
        "$ref": "#/definitions/Out",
        "definitions": {
            "Out": {
                "properties": {
                    "n": {"type": ["integer", "null"]},
                    "label": {"allOf": [{"$ref": "#/definitions/Label"}]},
                    "meta": {"type": "object", "properties": {"a": {"type": "string"}}},
                    "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                }
            },
            "Label": {"const": "x"},
        },
    }
    assert field_kinds(schema) == {
        "n": "integer",
        "label": "enum",
        "meta": "object",
        "either": "object",
    }


def test_field_kinds_names_a_missing_reference() -> None:
    schema = {"properties": {"a": {"$ref": "#/$defs/Nope"}}}
    with pytest.raises(SchemaError, match="Nope") as info:
        field_kinds(schema)
    assert isinstance(info.value, PlaygroundError)


def test_field_kinds_rejects_remote_references_with_a_clear_message() -> None:
    with pytest.raises(SchemaError, match="only local references"):
        field_kinds({"properties": {"a": {"$ref": "https://example.com/s.json"}}})


def test_schema_per_variant_gives_the_union_of_fields_in_schema_order() -> None:
    v1 = {"properties": {"sentiment": {"type": "string"}, "summary": {"type": "string"}}}
    v2 = {
        "properties": {
            "sentiment": {"enum": ["positive", "negative"]},
            "tags": {"type": "array"},
            "summary": {"type": "string"},
        }
    }
    fields = schema_fields({"v1": v1, "v2": v2}, ["v1", "v2"])
    assert list(fields) == ["sentiment", "summary", "tags"]
    assert fields["sentiment"] == "string"  # string in one, enum in the other: compare as text


# --------------------------------------------------------------------------- agreement


def test_values_agree_normalizes_strings_sets_and_numbers() -> None:
    assert values_agree(["  Hello   World ", "hello world"])
    assert not values_agree(["hello world", "hello, world"])
    assert values_agree([["b", "A"], ["a", "b", "a"]])
    assert not values_agree([["a"], ["a", "b"]])
    assert values_agree([0.1 + 0.2, 0.3])
    assert not values_agree([0.3, 0.31])
    assert values_agree([1, 1.0])
    assert not values_agree([True, 1])
    assert not values_agree([None, "x"])
    assert values_agree([{"a": 1, "b": 2}, {"b": 2, "a": 1}])


def test_agreement_counts_only_samples_where_two_variants_produced_output() -> None:
    results = [
        result("1", "v1", out()),
        result("1", "v2", out(summary="customer is   HAPPY")),
        result("2", "v1", out(sentiment="negative")),
        result("2", "v2", out(sentiment="neutral", tags=["billing", "refund"])),
        result("3", "v1", out()),
        result("3", "v2", None, error="validation failed"),
    ]
    comparison = compare(results, SCHEMA, ["v1", "v2"])
    sentiment = comparison.agreement["sentiment"]
    assert (sentiment.n_compared, sentiment.n_agree) == (2, 1)
    assert sentiment.rate == pytest.approx(0.5)
    assert comparison.agreement["summary"].rate == 1.0  # normalized text agrees
    assert comparison.agreement["tags"].rate == pytest.approx(0.5)
    assert comparison.agreement_rate == pytest.approx(0.5)
    # the errored sample is an error, not a disagreement
    assert all(d.sample_id != "3" for d in comparison.diffs)
    assert comparison.metrics["v2"].n_errors == 1


def test_diffs_name_sample_field_and_each_variants_value() -> None:
    results = [
        result("a", "prod", out(sentiment="positive", tags=["x", "y"])),
        result("a", "v2", out(sentiment="negative", tags=["y", "z"])),
        result("a", "v3", out(sentiment="negative", tags=["y", "z"])),
    ]
    comparison = compare(results, SCHEMA, ["prod", "v2", "v3"])
    assert [(d.sample_id, d.field) for d in comparison.diffs] == [
        ("a", "sentiment"),
        ("a", "tags"),
    ]
    diff = comparison.diffs_for("sentiment")[0]
    assert diff.values == {"prod": "positive", "v2": "negative", "v3": "negative"}
    assert diff.change("prod", "v2") == "'positive' → 'negative'"
    assert comparison.diffs_for("tags")[0].change("prod", "v3") == "[x, y] → [y, z] (−x, +z)"


def test_render_change_shows_missing_and_booleans() -> None:
    assert render_change(None, True) == "∅ → true"
    assert render_change(1.5, 2) == "1.5 → 2"
    assert render_change({"b": 1, "a": "é"}, None) == '{"a": "é", "b": 1} → ∅'


def test_results_of_other_variants_are_ignored_and_the_last_result_wins() -> None:
    results = [
        result("1", "v1", out(sentiment="negative")),
        result("1", "v1", out()),  # a retry of the same sample
        result("1", "v2", out()),
        result("1", "v9", out(sentiment="neutral")),
    ]
    comparison = compare(results, SCHEMA, ["v1", "v2"])
    assert comparison.diffs == []
    assert comparison.metrics["v1"].n == 1
    assert set(comparison.metrics) == {"v1", "v2"}


def test_a_field_missing_from_one_variants_schema_compares_as_missing() -> None:
    v1 = {"properties": {"sentiment": {"type": "string"}}}
    v2 = {"properties": {"sentiment": {"type": "string"}, "tags": {"type": "array"}}}
    results = [
        result("1", "v1", {"sentiment": "positive"}),
        result("1", "v2", {"sentiment": "positive", "tags": ["a"]}),
    ]
    comparison = compare(results, {"v1": v1, "v2": v2}, ["v1", "v2"])
    assert comparison.diffs == [Diff("1", "tags", {"v1": None, "v2": ["a"]})]


# --------------------------------------------------------------------------- metrics


def test_metrics_per_variant() -> None:
    results = [
        result(
            str(i),
            "v1",
            out(),
            attempts=1 + (i == 0),
            latency_ms=float(100 * (i + 1)),
            input_tokens=10,
            output_tokens=i,
            cost_usd=0.001,
        )
        for i in range(10)
    ]
    results.append(result("10", "v1", None, error="timeout", attempts=3, latency_ms=5000.0))
    metrics = compare(results, SCHEMA, ["v1"]).metrics["v1"]
    assert metrics.n == 11
    assert metrics.n_valid == 10
    assert metrics.valid_rate == pytest.approx(10 / 11)
    assert metrics.error_rate == pytest.approx(1 / 11)
    assert metrics.mean_attempts == pytest.approx((11 + 3) / 11)
    assert metrics.latency_p50_ms == pytest.approx(600.0)
    assert metrics.latency_p95_ms == pytest.approx(1000 + 0.5 * 4000)
    assert metrics.input_tokens == 100
    assert metrics.input_tokens_mean == pytest.approx(10.0)
    assert metrics.output_tokens == 45
    assert metrics.cost_usd == pytest.approx(0.01)
    assert metrics.n_cost_known == 10


def test_unknown_cost_is_none_not_zero() -> None:
    metrics = compare([result("1", "v1", out())], SCHEMA, ["v1", "v2"]).metrics
    assert metrics["v1"].cost_usd is None
    assert metrics["v1"].latency_p50_ms is None
    assert metrics["v2"].n == 0
    assert metrics["v2"].valid_rate is None


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    ("kind", "expected", "actual", "score"),
    [
        ("enum", "positive", "positive", 1.0),
        ("enum", "Positive", "positive", 0.0),
        ("enum", "2", 2, 1.0),
        ("boolean", "TRUE", True, 1.0),
        ("boolean", "no", True, 0.0),
        ("boolean", "maybe", True, 0.0),
        ("number", "0.3", 0.1 + 0.2, 1.0),
        ("number", "0.3", 0.31, 0.0),
        ("number", "abc", 1.0, 0.0),
        ("integer", "3", 3, 1.0),
        ("integer", 3.0, 4, 0.0),
        ("string", " The  Cat ", "the cat", 1.0),
        ("string", "the cat", "the dog", 0.0),
        ("list", '["a", "B"]', ["b", "a"], 1.0),
        ("list", "a; b", ["a", "c"], 0.5),
        ("list", "a, b, c, d", ["a"], 0.4),
        ("list", "[]", [], 1.0),
        ("list", "[]", ["a"], 0.0),
        ("list", ["x"], None, 0.0),
        ("object", '{"a": 1}', {"a": 1}, 1.0),
        ("object", {"a": 1}, {"a": 2}, 0.0),
        ("string", "x", None, 0.0),
    ],
)
def test_score_field(kind: Any, expected: Any, actual: Any, score: float) -> None:
    assert score_field(kind, expected, actual) == pytest.approx(score)


def test_accuracy_per_variant_and_field_skips_fields_without_expected_values() -> None:
    expected = {"sentiment": "negative", "tags": "billing;refund", "summary": ""}
    results = [
        result("1", "v1", out(sentiment="negative", tags=["billing"]), expected=expected),
        result("1", "v2", out(sentiment="positive", tags=["refund", "billing"]), expected=expected),
        result("2", "v1", out(), expected={"sentiment": "positive"}),
        result("2", "v2", None, error="boom", expected={"sentiment": "positive"}),
        result("3", "v1", out(), expected={}),
        result("3", "v2", out(), expected={}),
    ]
    accuracy = compare(results, SCHEMA, ["v1", "v2"]).accuracy
    assert set(accuracy["v1"]) == {"sentiment", "tags"}  # blank summary is "not given"
    assert accuracy["v1"]["sentiment"].accuracy == 1.0
    assert accuracy["v1"]["sentiment"].n_scored == 2
    assert accuracy["v1"]["tags"].accuracy == pytest.approx(2 / 3)
    assert accuracy["v2"]["sentiment"].accuracy == 0.0
    assert accuracy["v2"]["sentiment"].n_scored == 1
    assert accuracy["v2"]["sentiment"].n_unscored == 1  # the errored sample is not scored
    assert accuracy["v2"]["tags"].accuracy == 1.0


def test_no_expected_values_means_no_accuracy() -> None:
    comparison = compare([result("1", "v1", out())], SCHEMA, ["v1"])
    assert comparison.accuracy == {}


def test_accuracy_scores_are_per_trace_and_field_with_a_mean() -> None:
    results = [
        result(
            "1",
            "v1",
            out(sentiment="negative", urgent=True),
            expected={"sentiment": "positive", "urgent": "true"},
            trace_id="t1",
        ),
        result("2", "v1", None, error="x", expected={"sentiment": "positive"}, trace_id="t2"),
        result("3", "v1", out(), expected={"sentiment": "positive"}),  # no trace
    ]
    scores = accuracy_scores(results, SCHEMA)
    assert [(s.trace_id, s.name, s.value) for s in scores] == [
        ("t1", "accuracy.sentiment", 0.0),
        ("t1", "accuracy.urgent", 1.0),
        ("t1", "accuracy", 0.5),
    ]
    assert scores[0].comment == "expected 'positive', got 'negative'"


def test_accuracy_scores_use_each_variants_schema_and_clip_long_comments() -> None:
    v1 = {"properties": {"tags": {"type": "string"}}}
    v2 = {"properties": {"tags": {"type": "array", "items": {"type": "string"}}}}
    long_text = "word " * 100
    results = [
        result("1", "v1", {"tags": "a, b"}, expected={"tags": "a, b"}, trace_id="t1"),
        result("1", "v2", {"tags": ["b", "c"]}, expected={"tags": "a, b"}, trace_id="t2"),
        result("2", "v1", {"tags": "x"}, expected={"tags": long_text}, trace_id="t3"),
    ]
    scores = {s.trace_id: s for s in accuracy_scores(results, {"v1": v1, "v2": v2})}
    assert scores["t1"].value == 1.0
    assert scores["t2"].value == pytest.approx(0.5)
    assert scores["t3"].comment is not None
    assert len(scores["t3"].comment) < 200


# --------------------------------------------------------------------------- side by side


def test_side_by_side_one_row_per_sample_with_differs_flag_and_errors() -> None:
    results = [
        result("1", "v1", out()),
        result("1", "v2", out(summary=" customer IS happy")),
        result("2", "v1", out(tags=["a"])),
        result("2", "v2", out(tags=["b"])),
        result("3", "v1", out()),
        result("3", "v2", None, error="model refused"),
        result("4", "v1", out()),
    ]
    comparison = compare(results, SCHEMA, ["v1", "v2"])
    table = side_by_side(results, comparison, ["sentiment", "tags"])
    assert list(table.columns) == [
        "sample_id",
        "sentiment [v1]",
        "sentiment [v2]",
        "tags [v1]",
        "tags [v2]",
        "error [v1]",
        "error [v2]",
        "differs",
    ]
    assert table["sample_id"].tolist() == ["1", "2", "3", "4"]
    assert table["differs"].tolist() == [False, True, False, False]
    assert table["tags [v2]"].tolist()[1] == ["b"]
    assert table["error [v2]"].tolist()[2:] == ["model refused", "no result"]
    assert table["sentiment [v2]"].tolist()[2] is None

    assert comparison.differing == {"2": frozenset({"tags"})}
    mask = highlight_mask(table, comparison)
    assert mask.shape == table.shape
    assert mask["tags [v1]"].tolist() == [False, True, False, False]
    assert mask["tags [v2]"].tolist() == [False, True, False, False]
    assert not mask["sentiment [v1]"].any()
    assert not mask["sample_id"].any()


def test_side_by_side_renames_error_columns_when_a_field_is_called_error() -> None:
    results = [result("1", "v1", {"error": "E1"}), result("1", "v2", {"error": "E2"})]
    comparison = compare(results, {}, ["v1", "v2"], fields=["error"])
    table = side_by_side(results, comparison)
    assert "error [v1]" in table.columns
    assert "_error [v1]" in table.columns
    assert table["differs"].tolist() == [True]


def test_compare_scales_linearly_on_ten_thousand_samples() -> None:
    # Correctness at size (timing lives in bench/compare_bench.py).
    variants = ["v1", "v2", "v3"]
    results = [
        result(str(i), v, out(sentiment="negative" if (v == "v3" and i % 10 == 0) else "positive"))
        for i in range(10_000)
        for v in variants
    ]
    comparison = compare(results, SCHEMA, variants)
    assert comparison.agreement["sentiment"].n_compared == 10_000
    assert comparison.agreement["sentiment"].rate == pytest.approx(0.9)
    assert len(comparison.diffs) == 1_000
    assert side_by_side(results, comparison)["differs"].sum() == 1_000
    assert len(comparison.differing) == 1_000


def test_a_schema_without_properties_is_still_one_schema() -> None:
    assert schema_fields({"title": "Out", "description": "nothing yet"}) == {}


def test_tables_for_the_page() -> None:
    results = [
        result("1", "v1", out(), expected={"sentiment": "positive"}, latency_ms=10.0),
        result("1", "v2", out(sentiment="negative"), expected={"sentiment": "positive"}),
        result("2", "v1", out(), expected={"sentiment": "negative"}),
        result("2", "v2", None, error="x", expected={"sentiment": "negative"}),
    ]
    comparison = compare(results, SCHEMA, ["v1", "v2"])
    metrics = metrics_table(comparison)
    assert metrics["variant"].tolist() == ["v1", "v2"]
    assert metrics["error_rate"].tolist() == [0.0, 0.5]
    agreement = agreement_table(comparison).set_index("field")
    assert agreement.loc["sentiment", "n_differ"] == 1
    assert agreement.loc["sentiment", "n_compared"] == 1
    accuracy = accuracy_table(comparison)
    assert accuracy.to_dict("records") == [
        {"field": "sentiment", "variant": "v1", "accuracy": 0.5, "n_scored": 2, "n_unscored": 0},
        {"field": "sentiment", "variant": "v2", "accuracy": 0.0, "n_scored": 1, "n_unscored": 1},
    ]
