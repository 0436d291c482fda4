"""Validate JSON responses against Langfuse's own OpenAPI spec (server 4.16).

The spec is OpenAPI 3.0 (``nullable``), so schemas are converted to JSON Schema 2020-12 first.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "langfuse-openapi.yml"


def _convert(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") is True:
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(node, list):
        return [_convert(item) for item in node]
    return node


@functools.cache
def spec() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=loader)
    return loaded


@functools.cache
def _components() -> dict[str, Any]:
    converted: dict[str, Any] = _convert(spec()["components"])
    return converted


def _match_path(path: str) -> str:
    """The spec's path template for a concrete path (``/api/public/v2/prompts/x``)."""
    paths = spec()["paths"]
    if path in paths:
        return path
    for template in paths:
        pattern = "^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"No path in the Langfuse OpenAPI spec matches {path}")


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    template = _match_path(path)
    operation = spec()["paths"][template][method.lower()]
    responses = operation["responses"]
    response = responses.get(str(status)) or responses.get("default")
    if response is None:
        raise AssertionError(f"{method} {template} documents no {status} response")
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def assert_valid_response(method: str, path: str, status: int, body: Any) -> None:
    """Fail with the first schema violation of ``body`` for this operation and status."""
    schema = _convert(response_schema(method, path, status))
    document = {**schema, "components": _components()}
    validator = jsonschema.Draft202012Validator(document)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "<root>"
        raise AssertionError(
            f"{method} {path} ({status}) does not match the OpenAPI schema at {where}: "
            f"{first.message}"
        )
