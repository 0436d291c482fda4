"""Response schemas: JSON Schema → Pydantic, allow-listed code models, drift, the example."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from prompt_playground.errors import SchemaError
from prompt_playground.examples import example_prompt, example_samples_bytes
from prompt_playground.examples.feedback_models import ExtractedFeedback, ExtractedFeedbackV2
from prompt_playground.samples import load_samples, preflight
from prompt_playground.schema import (
    SMALL_MODEL_MAX_ITEMS,
    SMALL_MODEL_MAX_LENGTH,
    field_specs,
    load_code_model,
    model_from_schema,
    output_token_bound,
    response_model_for,
    schema_drift,
    schema_fingerprint,
)

ALLOWED = ["prompt_playground.examples"]
FEEDBACK_REF = "prompt_playground.examples.feedback_models:ExtractedFeedback"

NESTED: dict[str, Any] = {
    "title": "Ticket",
    "type": "object",
    "additionalProperties": False,
    "$defs": {
        "Person": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "email": {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"},
            },
            "required": ["name"],
        }
    },
    "properties": {
        "priority": {"enum": ["p1", "p2", "p3"], "description": "How urgent."},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer", "exclusiveMinimum": 0},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3},
        "owner": {"$ref": "#/$defs/Person"},
        "watchers": {"type": "array", "items": {"$ref": "#/$defs/Person"}, "minItems": 1},
        "note": {"type": ["string", "null"]},
        "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
    "required": ["priority", "score", "count", "tags", "owner", "watchers"],
}

VALID = {
    "priority": "p1",
    "score": 0.5,
    "count": 2,
    "tags": ["a"],
    "owner": {"name": "Ann", "email": "ann@example.com"},
    "watchers": [{"name": "Bo"}],
}


def test_nested_schema_builds_a_model_that_validates() -> None:
    model = model_from_schema(NESTED)
    assert model.__name__ == "Ticket"
    item = model.model_validate(VALID)
    dumped = item.model_dump()
    assert dumped["owner"] == {"name": "Ann", "email": "ann@example.com"}
    assert dumped["note"] is None
    assert model.model_fields["priority"].description == "How urgent."


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"priority": "p9"}, "priority"),
        ({"score": 1.5}, "score"),
        ({"count": 0}, "count"),
        ({"tags": ["a", "b", "c", "d"]}, "tags"),
        ({"tags": ["x" * 11]}, "tags"),
        ({"owner": {"name": ""}}, "owner"),
        ({"owner": {"name": "A", "email": "no-at-sign"}}, "owner"),
        ({"watchers": []}, "watchers"),
        ({"meta": {"a": "not int"}}, "meta"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_constraints_are_enforced(change: dict[str, Any], where: str) -> None:
    model = model_from_schema(NESTED)
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**VALID, **change})
    assert where in str(caught.value)


def test_optional_fields_default_to_none_and_missing_required_fails() -> None:
    model = model_from_schema(NESTED)
    assert model.model_validate(VALID).model_dump()["meta"] is None
    incomplete = {k: v for k, v in VALID.items() if k != "owner"}
    with pytest.raises(ValidationError, match="owner"):
        model.model_validate(incomplete)


def test_extra_keys_are_ignored_unless_forbidden() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert model_from_schema(schema).model_validate({"a": "x", "b": 1}).model_dump() == {"a": "x"}
    bounded = model_from_schema(schema, small_model_bounds=True)
    with pytest.raises(ValidationError):
        bounded.model_validate({"a": "x", "b": 1})


def test_small_model_bounds_lower_loose_bounds_and_keep_tight_ones() -> None:
    schema = {
        "type": "object",
        "properties": {
            "long": {"type": "string", "maxLength": 1000},
            "short": {"type": "string", "maxLength": 20},
            "floor": {"type": "string", "minLength": 500},
            "many": {"type": "array", "items": {"type": "integer"}, "maxItems": 50},
        },
        "required": ["long", "short", "floor", "many"],
    }
    props = model_from_schema(schema, small_model_bounds=True).model_json_schema()["properties"]
    assert props["long"]["maxLength"] == SMALL_MODEL_MAX_LENGTH
    assert props["short"]["maxLength"] == 20
    assert props["floor"]["maxLength"] == 500  # never below the schema's own minimum
    assert props["many"]["maxItems"] == SMALL_MODEL_MAX_ITEMS
    unbounded = model_from_schema(schema).model_json_schema()["properties"]
    assert unbounded["long"]["maxLength"] == 1000


def test_output_token_bound_counts_the_longest_compact_answer() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string", "maxLength": 10},
            "e": {"enum": ["low", "medium"]},
            "b": {"type": "boolean"},
            "l": {"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2},
            "o": {"anyOf": [{"type": "string", "maxLength": 4}, {"type": "null"}]},
        },
    }
    longest = {"s": "x" * 10, "e": "medium", "b": False, "l": ["abc", "abc"], "o": "abcd"}
    compact = json.dumps(longest, separators=(",", ":"))
    bound = output_token_bound(schema)
    assert bound is not None
    assert len(compact) <= bound <= len(compact) + 8
    assert output_token_bound({"type": "object", "properties": {"s": {"type": "string"}}}) is None
    bounded = model_from_schema(NESTED, small_model_bounds=True).model_json_schema()
    assert output_token_bound(bounded) is not None  # every string and list is bounded now


def test_small_model_bounds_cap_strings_and_arrays_where_absent() -> None:
    model = model_from_schema(NESTED, small_model_bounds=True)
    schema = model.model_json_schema()
    props = schema["properties"]
    assert props["tags"]["maxItems"] == 3  # kept
    assert props["tags"]["items"]["maxLength"] == 10  # kept
    assert props["watchers"]["maxItems"] == SMALL_MODEL_MAX_ITEMS
    person = schema["$defs"]["Person"]
    assert person["properties"]["name"]["maxLength"] == SMALL_MODEL_MAX_LENGTH
    assert person["additionalProperties"] is False
    with pytest.raises(ValidationError):
        model.model_validate({**VALID, "owner": {"name": "x" * (SMALL_MODEL_MAX_LENGTH + 1)}})


def test_awkward_property_names_keep_their_json_names() -> None:
    schema = {
        "type": "object",
        "properties": {
            "first-name": {"type": "string"},
            "class": {"type": "string"},
            "model_name": {"type": "string"},
            "schema": {"type": "string"},
        },
        "required": ["first-name", "class", "model_name", "schema"],
    }
    model = model_from_schema(schema)
    data = {"first-name": "a", "class": "b", "model_name": "c", "schema": "d"}
    assert model.model_validate(data).model_dump() == data
    assert set(model.model_json_schema()["properties"]) == set(data)


@pytest.mark.parametrize(
    ("schema", "path", "says"),
    [
        ([], "#", "JSON object"),
        ({"type": "string"}, "#", "top level must be an object"),
        (
            {"type": "object", "properties": {"a": {"type": "strng"}}},
            "#/properties/a/type",
            "unknown type 'strng'",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "array", "items": {"enum": []}}}},
            "#/properties/a/items/enum",
            "non-empty",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}},
            "#/properties/a/$ref",
            "points to nothing",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "http://x/y.json"}}},
            "#/properties/a/$ref",
            "not supported",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]},
            "#/required",
            "required names b",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}},
            "#/properties/a/pattern",
            "invalid regular expression",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "maxLength": -1}}},
            "#/properties/a/maxLength",
            "non-negative integer",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}},
            },
            "#/properties/a",
            "greater than maximum",
        ),
        (
            {"type": "object", "properties": {"a": {"not": {"type": "string"}}}},
            "#/properties/a",
            "'not' is not supported",
        ),
        (
            {
                "type": "object",
                "$defs": {"N": {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}}},
                "properties": {"root": {"$ref": "#/$defs/N"}},
            },
            "#/$defs/N/properties/n",
            "recursive",
        ),
        (
            {"type": "object", "properties": {"a": {"enum": [{"x": 1}]}}},
            "#/properties/a/enum/0",
            "enum/const values",
        ),
    ],
)
def test_bad_schemas_raise_schema_error_naming_the_path(schema: Any, path: str, says: str) -> None:
    with pytest.raises(SchemaError) as caught:
        model_from_schema(schema)
    assert f"at {path}:" in caught.value.message
    assert says in caught.value.message


def test_fingerprint_ignores_key_order_and_sees_changes() -> None:
    a = {"type": "object", "properties": {"x": {"type": "string"}}}
    b = {"properties": {"x": {"type": "string"}}, "type": "object"}
    assert schema_fingerprint(a) == schema_fingerprint(b)
    assert len(schema_fingerprint(a)) == 16
    c = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert schema_fingerprint(a) != schema_fingerprint(c)


def test_code_model_loads_from_an_allowed_module() -> None:
    assert load_code_model(FEEDBACK_REF, ALLOWED) is ExtractedFeedback


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("os:system", "not in the allowed"),
        ("prompt_playground.examplesX.evil:Model", "not in the allowed"),
        ("not a reference", "package.module:Class"),
        ("prompt_playground.examples.missing_module:Model", "cannot be imported"),
        ("prompt_playground.examples.feedback_models:Nope", "no attribute"),
        ("prompt_playground.examples.feedback_models:Urgency", "not a Pydantic model"),
    ],
)
def test_code_model_refused_outside_the_allow_list_or_when_invalid(ref: str, says: str) -> None:
    with pytest.raises(SchemaError, match=says):
        load_code_model(ref, ALLOWED)


def test_disallowed_module_is_never_imported() -> None:
    name = "tests.unit._never_imported_module"
    with pytest.raises(SchemaError, match="not in the allowed"):
        load_code_model(f"{name}:Model", ALLOWED)
    assert name not in sys.modules
    with pytest.raises(SchemaError, match=r"\(none\)"):
        load_code_model(FEEDBACK_REF, [])


def test_schema_drift_reports_fields_types_and_enum_changes() -> None:
    stored = ExtractedFeedback.model_json_schema()
    stored["properties"]["urgency"]["enum"] = ["low", "medium", "high", "critical"]
    stored["properties"]["summary"]["type"] = "integer"
    stored["properties"]["legacy"] = {"type": "string"}
    stored["properties"].pop("product")
    drift = schema_drift(ExtractedFeedbackV2, stored)
    assert any("'product'" in d and "in the code model but not" in d for d in drift)
    assert any("'legacy'" in d and "in the stored schema but not" in d for d in drift)
    assert "field 'summary': type changed from integer to string" in drift
    assert "field 'urgency': enum values changed (removed 'critical')" in drift
    assert schema_drift(ExtractedFeedback, ExtractedFeedback.model_json_schema()) == []


def test_field_specs_describe_kinds_for_comparison() -> None:
    specs = {s.name: s for s in field_specs(ExtractedFeedback.model_json_schema())}
    assert list(specs) == [
        "sentiment",
        "topics",
        "summary",
        "urgency",
        "requires_follow_up",
        "product",
    ]
    assert specs["sentiment"].kind == "enum"
    assert specs["sentiment"].enum_values == ("positive", "neutral", "negative", "mixed")
    assert specs["topics"].kind == "list"
    assert specs["topics"].item_kind == "string"
    assert specs["requires_follow_up"].kind == "boolean"
    assert specs["product"].kind == "string"
    assert specs["product"].nullable
    assert not specs["product"].required
    assert specs["summary"].required
    assert specs["summary"].description
    nested = {s.name: s for s in field_specs(NESTED)}
    assert nested["owner"].kind == "object"
    assert [f.name for f in nested["owner"].fields] == ["name", "email"]
    assert nested["count"].kind == "integer"
    assert nested["score"].kind == "number"


def test_response_model_from_config_schema() -> None:
    config = {"response_schema": ExtractedFeedback.model_json_schema(), "temperature": 0}
    resolved = response_model_for(config, allowed_modules=ALLOWED, small_model_bounds=True)
    assert resolved.source == "schema"
    assert resolved.fingerprint == schema_fingerprint(ExtractedFeedback.model_json_schema())
    assert resolved.bounded
    out = resolved.model.model_validate(
        {
            "sentiment": "mixed",
            "topics": ["delivery"],
            "summary": "Late parcel.",
            "urgency": "low",
            "requires_follow_up": False,
        }
    )
    assert out.model_dump()["product"] is None


def test_response_model_from_code_reports_drift_from_the_stored_schema() -> None:
    config = {
        "response_model": "prompt_playground.examples.feedback_models:ExtractedFeedbackV2",
        "response_schema": ExtractedFeedback.model_json_schema(),
    }
    resolved = response_model_for(config, allowed_modules=ALLOWED, small_model_bounds=False)
    assert resolved.source == "code"
    assert resolved.model is ExtractedFeedbackV2
    assert resolved.drift
    assert any("'topics'" in d for d in resolved.drift), resolved.drift


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"temperature": 0}, "add config.response_schema"),
        (None, "add config.response_schema"),
        ({"response_schema": "{not json"}, "not valid JSON"),
        ({"response_schema": ["a"]}, "must be a JSON Schema object"),
        ({"response_schema": {"type": "object", "properties": {"a": {"type": "x"}}}}, "#/prop"),
        ({"response_model": "os:system"}, "not in the allowed"),
    ],
)
def test_response_model_for_bad_configs(config: dict[str, Any] | None, says: str) -> None:
    with pytest.raises(SchemaError, match=says):
        response_model_for(config, allowed_modules=ALLOWED, small_model_bounds=False)


def test_response_schema_may_be_a_json_string() -> None:
    config = {"response_schema": '{"type": "object", "properties": {"a": {"type": "string"}}}'}
    resolved = response_model_for(config, allowed_modules=ALLOWED, small_model_bounds=False)
    assert resolved.model.model_validate({"a": "x"}).model_dump() == {"a": "x"}


# ----------------------------------------------------------------------------- the shipped example


def test_example_yaml_stores_the_code_models_schemas() -> None:
    prompt = example_prompt()
    assert prompt["name"] == "chat-extract-feedback"
    assert prompt["type"] == "chat"
    production, staging = prompt["versions"]
    assert production["labels"] == ["production"]
    assert staging["labels"] == ["staging"]
    assert production["config"]["response_schema"] == ExtractedFeedback.model_json_schema()
    assert staging["config"]["response_schema"] == ExtractedFeedbackV2.model_json_schema()
    for version in prompt["versions"]:
        assert version["commit_message"]
        assert [m["role"] for m in version["prompt"]] == ["system", "user"]
        resolved = response_model_for(
            version["config"], allowed_modules=ALLOWED, small_model_bounds=True
        )
        assert resolved.source == "schema"


def test_example_samples_pass_preflight_for_the_prompt_variables() -> None:
    variables = set()
    for version in example_prompt()["versions"]:
        for message in version["prompt"]:
            variables.update(
                part.split("}}")[0].strip() for part in message["content"].split("{{")[1:]
            )
    assert variables == {"chat_json"}
    loaded = load_samples(example_samples_bytes(), "sample_chats.csv")
    assert loaded.row_count >= 20
    assert loaded.expected_fields == ["sentiment", "urgency", "topics"]
    report = preflight(
        loaded, variables=variables, required_expected=["sentiment", "urgency", "topics"]
    )
    assert report.ok, [p.message for p in report.problems]
    sentiment = ExtractedFeedback.model_fields["sentiment"].annotation
    urgency = ExtractedFeedback.model_fields["urgency"].annotation
    for sample in loaded.samples:
        assert isinstance(sample.expected["topics"], list)
        assert sample.expected["sentiment"] in sentiment.__args__  # type: ignore[union-attr]
        assert sample.expected["urgency"] in urgency.__args__  # type: ignore[union-attr]
    assert {s.expected["sentiment"] for s in loaded.samples} == {
        "positive",
        "neutral",
        "negative",
        "mixed",
    }


class _Local(BaseModel):
    x: int = Field(ge=0)


def test_local_code_model_schema_round_trips_through_model_from_schema() -> None:
    rebuilt = model_from_schema(_Local.model_json_schema())
    assert schema_drift(_Local, rebuilt.model_json_schema()) == []


@pytest.mark.parametrize("code_model", [ExtractedFeedback, ExtractedFeedbackV2])
def test_model_from_stored_schema_sends_exactly_the_stored_schema(
    code_model: type[BaseModel],
) -> None:
    stored = code_model.model_json_schema()
    rebuilt = model_from_schema(stored)
    assert rebuilt.model_json_schema() == stored
    assert schema_drift(code_model, rebuilt.model_json_schema()) == []


# --------------------------------------------------------------------------- hostile schemas


def test_a_catastrophic_pattern_is_checked_in_linear_time() -> None:
    """``^(a+)+$`` backtracks exponentially in Python's ``re``; the Rust engine does not.

    With ``re`` the 60-character probe below would take longer than the age of the universe;
    the suite's timeout turns a regression into a failure rather than a hang.
    """
    model = model_from_schema(
        {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}
    )
    assert model.model_config.get("regex_engine") == "rust-regex"
    with pytest.raises(ValidationError):
        model.model_validate({"a": "a" * 60 + "!"})
    assert model.model_validate({"a": "aaa"}).a == "aaa"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("pattern", "feature"), [("(?=a)a", "look-around"), (r"(a)\1", "")])
def test_a_pattern_the_linear_engine_cannot_compile_is_refused_naming_the_field(
    pattern: str, feature: str
) -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    with pytest.raises(SchemaError) as caught:
        model_from_schema(schema)
    message = caught.value.message
    assert "#/properties/code/pattern" in message
    assert "linear-time regex engine" in message
    assert feature in message
    with pytest.raises(SchemaError, match="properties/code/pattern"):
        response_model_for({"response_schema": schema}, allowed_modules=ALLOWED)


def test_a_schema_with_too_many_nodes_is_refused() -> None:
    wide = {
        "type": "object",
        "properties": {f"f{i}": {"type": "string"} for i in range(3_000)},
    }
    with pytest.raises(SchemaError, match="too large"):
        model_from_schema(wide)
    with pytest.raises(SchemaError, match="too large"):
        response_model_for({"response_schema": wide}, allowed_modules=ALLOWED)


def test_a_schema_nested_beyond_the_bound_is_refused_without_recursion_error() -> None:
    deep: Any = {"type": "string"}
    for _ in range(5_000):
        deep = {"type": "object", "properties": {"x": deep}}
    for call in (
        lambda: model_from_schema(deep),
        lambda: field_specs(deep),
        lambda: response_model_for({"response_schema": deep}, allowed_modules=ALLOWED),
        lambda: response_model_for(
            {"response_schema": "[" * 100_000 + "]" * 100_000}, allowed_modules=ALLOWED
        ),
    ):
        with pytest.raises(SchemaError, match="nests deeper"):
            call()


def test_bare_base_model_is_not_a_response_model() -> None:
    with pytest.raises(SchemaError, match="BaseModel itself"):
        load_code_model("prompt_playground.examples.feedback_models:BaseModel", ALLOWED)


def test_a_model_merely_imported_into_an_allowed_module_is_refused() -> None:
    # bootstrap imports Settings (a BaseModel subclass) from prompt_playground.settings
    with pytest.raises(SchemaError, match=r"defined in 'prompt_playground\.settings'"):
        load_code_model("prompt_playground.bootstrap:Settings", ["prompt_playground.bootstrap"])
