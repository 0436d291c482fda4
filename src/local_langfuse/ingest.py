"""OTLP spans → trace and observation rows, the way Langfuse's OTel ingestion maps them.

Decoding (protobuf or OTLP JSON, gzip or plain) and mapping run in bulk on plain Python
objects; :func:`write_batch` stores one export request in one transaction with ``executemany``.
Spans of one trace may arrive in several requests: rows are merged, never wiped.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import sqlite3
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from local_langfuse.db import Database
from local_langfuse.errors import ApiError, BadRequestError, PayloadTooLargeError
from local_langfuse.http import dt_to_ts

OBSERVATION_TYPES = frozenset(
    {
        "span",
        "generation",
        "event",
        "agent",
        "tool",
        "chain",
        "retriever",
        "evaluator",
        "embedding",
        "guardrail",
    }
)
# Only these types link prompts (propagated prompt attributes also land on plain spans).
GENERATION_LIKE = frozenset({"GENERATION", "EMBEDDING"})
LEVELS = frozenset({"DEBUG", "DEFAULT", "WARNING", "ERROR"})
STATUS_ERROR = 2
DEFAULT_ENVIRONMENT = "default"

_OBS_META = "langfuse.observation.metadata"
_OBS_META_PREFIX = _OBS_META + "."
_TRACE_META = "langfuse.trace.metadata"
_TRACE_META_PREFIX = _TRACE_META + "."
_EXPERIMENT_PREFIX = "langfuse.experiment."


# Parsed JSON costs far more memory than its text (``{"a":1},`` is 8 bytes of text and about
# 190 of Python objects), so an OTLP JSON body is parsed only when an upper estimate of what
# its objects will take fits this budget (a few KB of gzip could otherwise take gigabytes).
JSON_MEMORY_BUDGET = 256 * 1024 * 1024
# At most this many spans per export request (SDKs send 512 at most by default).
MAX_SPANS_PER_REQUEST = 10_000
# Attribute values nested deeper than this are dropped from their span (SQLite's JSON functions
# and Python's json module give up near 1000 levels, failing the whole batch).
MAX_ATTRIBUTE_DEPTH = 200
# Attributes stored as raw text, never decoded: their depth does not matter.
_RAW_ATTRIBUTES = frozenset({"langfuse.observation.input", "langfuse.observation.output"})

logger = logging.getLogger(__name__)


class UnsupportedMediaTypeError(ApiError):
    status_code = 415
    error = "UnsupportedMediaTypeError"


class OverBudgetError(PayloadTooLargeError):
    """A body whose parsed form would not fit the memory budget it was decoded with."""


def json_memory_estimate(data: bytes) -> int:
    """An upper estimate of the bytes ``json.loads(data)`` allocates (C-speed counts only)."""
    return len(data) + 64 * data.count(b",") + 200 * data.count(b"{") + 72 * data.count(b"[")


@dataclass(slots=True)
class Span:
    """One OTLP span, decoded from either wire format."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    resource: Mapping[str, Any]


@dataclass(slots=True)
class TraceRow:
    """What one batch says about a trace; ``None`` means "not said" (keep the stored value)."""

    id: str
    timestamp: str
    name: str | None = None
    root_name: str | None = None
    root_observation_id: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    version: str | None = None
    input: str | None = None
    output: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    environment: str | None = None
    public: bool = False
    # Which of input/output came from trace-level attributes (a root span must not overwrite).
    explicit_io: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Batch:
    traces: dict[str, TraceRow]
    observations: list[tuple[Any, ...]]


# --- decoding ---------------------------------------------------------------------------


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none), refusing output over ``limit`` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity", "none"):
        return body
    if enc == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif enc == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise UnsupportedMediaTypeError(
            f"Unsupported Content-Encoding {encoding!r}; send gzip, deflate or no encoding."
        )
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequestError(f"Request body is not valid {enc} data: {exc}") from exc
    if len(data) > limit:
        raise PayloadTooLargeError(f"Decompressed request body exceeds the limit of {limit} bytes.")
    if not inflater.eof:
        raise BadRequestError(f"Request body is truncated {enc} data.")
    return data


def decode_request(
    body: bytes, content_type: str | None, budget: int = JSON_MEMORY_BUDGET
) -> list[Span]:
    """Spans from an OTLP/HTTP body, by content type (protobuf or JSON)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.endswith("json"):
        return decode_json(body, budget)
    if ctype.endswith("protobuf") or ctype == "":
        return decode_protobuf(body)
    raise UnsupportedMediaTypeError(
        f"Unsupported Content-Type {content_type!r}; OTLP/HTTP takes application/x-protobuf "
        "or application/json."
    )


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def _fields(data: bytes, start: int, end: int) -> Iterable[tuple[int, int, int]]:
    """``(field number, payload start, payload end)`` of the length-delimited fields of one
    protobuf message in ``data[start:end]``; other wire types are skipped."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 2:
            size, pos = _varint(data, pos)
            yield key >> 3, pos, pos + size
            pos += size
        elif wire == 0:
            _, pos = _varint(data, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _more_spans_than(body: bytes, limit: int) -> bool:
    """Whether an ``ExportTraceServiceRequest`` holds more than ``limit`` spans, found by walking
    the wire format (resource_spans = 1, scope_spans = 2, spans = 2) and stopping at the limit:
    parsing a small export of millions of empty spans takes gigabytes before they can be counted.
    """
    count = 0
    try:
        for number, start, end in _fields(body, 0, len(body)):
            if number != 1:
                continue
            for scope_number, scope_start, scope_end in _fields(body, start, end):
                if scope_number != 2:
                    continue
                for span_number, _, _ in _fields(body, scope_start, scope_end):
                    if span_number == 2:
                        count += 1
                        if count > limit:
                            return True
    except ValueError:
        return False  # not a valid message: ParseFromString says what is wrong
    return False


def decode_protobuf(body: bytes) -> list[Span]:
    if _more_spans_than(body, MAX_SPANS_PER_REQUEST):
        raise _too_many_spans()
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise BadRequestError(
            f"Request body is not a valid OTLP ExportTraceServiceRequest protobuf: {exc}"
        ) from exc
    spans: list[Span] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if len(span.trace_id) != 16 or len(span.span_id) != 8:
                    raise BadRequestError(
                        f"Span {span.name!r} has a trace id of {len(span.trace_id)} bytes and a "
                        f"span id of {len(span.span_id)} bytes; OTLP needs 16 and 8."
                    )
                parent = span.parent_span_id
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=parent.hex() if parent else None,
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        status_code=span.status.code,
                        status_message=span.status.message,
                        attributes=_attributes(span.attributes),
                        resource=resource,
                    )
                )
    return spans


def _too_many_spans() -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The export request holds more than {MAX_SPANS_PER_REQUEST} spans; send smaller batches."
    )


def _json_any(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_json_any(item) for item in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return _json_attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None


def _json_attributes(pairs: Any) -> dict[str, Any]:
    if not isinstance(pairs, list):
        raise ValueError("attributes must be a list of {key, value}")
    return {str(kv["key"]): _json_any(kv.get("value")) for kv in pairs}


def _json_id(value: Any, size: int, what: str) -> str:
    """OTLP JSON ids are hex; base64 (protobuf's JSON mapping) is accepted too."""
    text = str(value or "")
    if len(text) == size * 2:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise ValueError(f"{what} {text!r} is not {size} bytes of hex")


def decode_json(body: bytes, budget: int = JSON_MEMORY_BUDGET) -> list[Span]:
    estimate = json_memory_estimate(body)
    if estimate > budget:
        raise OverBudgetError(
            f"OTLP JSON body of {len(body)} bytes would take about {estimate} bytes of memory "
            f"to parse; the limit is {budget}. Send smaller batches, or protobuf."
        )
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"Request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequestError("Request body is JSON nested too deeply to parse.") from exc
    if not isinstance(document, dict):
        raise BadRequestError("OTLP JSON body must be an object with 'resourceSpans'.")
    spans: list[Span] = []
    try:
        for resource_spans in document.get("resourceSpans") or []:
            resource = _json_attributes(
                (resource_spans.get("resource") or {}).get("attributes", [])
            )
            scopes = resource_spans.get("scopeSpans") or resource_spans.get(
                "instrumentationLibrarySpans", []
            )
            for scope_spans in scopes:
                for span in scope_spans.get("spans") or []:
                    if len(spans) == MAX_SPANS_PER_REQUEST:
                        raise _too_many_spans()
                    status = span.get("status") or {}
                    code = status.get("code", 0)
                    if isinstance(code, str):
                        code = STATUS_ERROR if code.endswith("ERROR") else 0
                    parent = span.get("parentSpanId")
                    spans.append(
                        Span(
                            trace_id=_json_id(span.get("traceId"), 16, "traceId"),
                            span_id=_json_id(span.get("spanId"), 8, "spanId"),
                            parent_span_id=_json_id(parent, 8, "parentSpanId") if parent else None,
                            name=str(span.get("name") or ""),
                            start_ns=int(span.get("startTimeUnixNano") or 0),
                            end_ns=int(span.get("endTimeUnixNano") or 0),
                            status_code=int(code),
                            status_message=str(status.get("message") or ""),
                            attributes=_json_attributes(span.get("attributes") or []),
                            resource=resource,
                        )
                    )
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError) as exc:
        raise BadRequestError(f"OTLP JSON body is malformed: {exc}") from exc
    return spans


# --- mapping ----------------------------------------------------------------------------


def ns_to_ts(nanos: int) -> str:
    """Nanoseconds → the stored timestamp, fixed-width ISO with microseconds (sorts as text)."""
    secs, rem = divmod(nanos, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{rem // 1000:06d}Z"


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether a decoded value nests lists and objects more than ``limit`` levels deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _too_deep(value: Any) -> bool:
    if isinstance(value, str):
        # Fewer brackets than the limit cannot nest deeper than it: the usual, free answer.
        if value.count("[") + value.count("{") <= MAX_ATTRIBUTE_DEPTH:
            return False
        try:
            value = json.loads(value)
        except RecursionError:
            return True
        except ValueError:
            return False
    return isinstance(value, dict | list) and _deeper_than(value, MAX_ATTRIBUTE_DEPTH)


def _without_deep_values(span: Span) -> dict[str, Any]:
    """The span's attributes less those nested too deeply to store (each one logged)."""
    attrs = span.attributes
    deep: list[str] = []
    for key, value in attrs.items():
        # Most values are short strings or numbers: nothing to look at (the hot path).
        if isinstance(value, str):
            if len(value) <= MAX_ATTRIBUTE_DEPTH:
                continue
        elif not isinstance(value, dict | list):
            continue
        if key not in _RAW_ATTRIBUTES and _too_deep(value):
            deep.append(key)
    if not deep:
        return attrs
    for key in deep:
        logger.warning(
            "Span %s of trace %s: dropped attribute %r, nested more than %d levels deep.",
            span.span_id,
            span.trace_id,
            key,
            MAX_ATTRIBUTE_DEPTH,
        )
    return {k: v for k, v in attrs.items() if k not in deep}


def _decode(value: Any) -> Any:
    """A JSON-encoded attribute value, or the value itself when it is not JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    """Input/output as stored: strings raw, anything else JSON-encoded."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


_USAGE_RENAMES = {
    "prompt_tokens": "input",
    "completion_tokens": "output",
    "total_tokens": "total",
    "input_tokens": "input",
    "output_tokens": "output",
    "promptTokens": "input",
    "completionTokens": "output",
    "totalTokens": "total",
}
_DETAIL_PREFIXES = {
    "prompt_tokens_details": "input",
    "input_tokens_details": "input",
    "completion_tokens_details": "output",
    "output_tokens_details": "output",
}


def _openai_shaped(raw: dict[str, Any]) -> bool:
    """A complete OpenAI usage object (Chat Completions or Responses), which Langfuse renames.

    Any other flat mapping is kept under its own keys: ``{"prompt_tokens": 10}`` alone stays
    ``prompt_tokens``, as Langfuse's usage schema only converts the full OpenAI shapes.
    """
    if "total_tokens" not in raw:
        return False
    return {"prompt_tokens", "completion_tokens"} <= raw.keys() or {
        "input_tokens",
        "output_tokens",
    } <= raw.keys()


def normalize_usage(raw: Any) -> dict[str, int]:
    """Usage as Langfuse stores it: flat ``{name: int}``, OpenAI shapes mapped, ``total`` filled."""
    if not isinstance(raw, dict):
        return {}
    renames = _USAGE_RENAMES if _openai_shaped(raw) else {}
    usage: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            prefix = _DETAIL_PREFIXES.get(key, key) if renames else key
            for sub, sub_value in value.items():
                number = _number(sub_value)
                if number is not None:
                    usage[f"{prefix}_{sub}"] = round(number)
            continue
        number = _number(value)
        if number is not None:
            usage[renames.get(str(key), str(key))] = round(number)
    if usage and "total" not in usage:
        usage["total"] = sum(usage.values())
    return usage


def normalize_cost(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    cost = {k: n for k, v in raw.items() if (n := _number(v)) is not None}
    if cost and "total" not in cost:
        cost["total"] = sum(cost.values())
    return cost


_PLAIN_PARAMETER = frozenset({str, int, float})


def model_parameters(raw: Any) -> Any:
    """Model parameters as Langfuse returns them: strings and numbers kept, the rest JSON text.

    ``{"stop": ["a", "b"]}`` reads back as ``{"stop": '["a","b"]'}``, as from Langfuse.
    """
    decoded = _decode(raw)
    if not isinstance(decoded, dict):
        return decoded
    for value in decoded.values():
        if value.__class__ not in _PLAIN_PARAMETER:
            break
    else:
        return decoded  # the usual case: nothing to encode
    return {
        str(key): value
        if isinstance(value, str | int | float) and not isinstance(value, bool)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        for key, value in decoded.items()
    }


def _metadata(attrs: Mapping[str, Any], whole_key: str, prefix: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    whole = attrs.get(whole_key)
    if whole is not None:
        decoded = _decode(whole)
        if isinstance(decoded, dict):
            meta.update(decoded)
        else:
            meta["metadata"] = decoded
    for key, value in attrs.items():
        if key.startswith(prefix):
            meta[key[len(prefix) :]] = _decode(value)
    return meta


def _completion_start(value: Any) -> str | None:
    decoded = _decode(value)
    if isinstance(decoded, int | float) and not isinstance(decoded, bool):
        return ns_to_ts(int(decoded))
    if not isinstance(decoded, str) or not decoded:
        return None
    try:
        return dt_to_ts(datetime.fromisoformat(decoded.replace("Z", "+00:00")))
    except ValueError:
        return None


def _observation_type(attrs: Mapping[str, Any]) -> str:
    declared = attrs.get("langfuse.observation.type")
    if isinstance(declared, str) and declared.lower() in OBSERVATION_TYPES:
        return declared.upper()
    if "gen_ai.request.model" in attrs or "gen_ai.response.model" in attrs:
        return "GENERATION"
    return "SPAN"


def _gen_ai_usage(attrs: Mapping[str, Any]) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    for key, name in (
        ("gen_ai.usage.input_tokens", "input"),
        ("gen_ai.usage.prompt_tokens", "input"),
        ("gen_ai.usage.output_tokens", "output"),
        ("gen_ai.usage.completion_tokens", "output"),
    ):
        if key in attrs:
            usage[name] = attrs[key]
    return usage


OBSERVATION_COLUMNS = (
    "id",
    "trace_id",
    "parent_observation_id",
    "type",
    "name",
    "start_time",
    "end_time",
    "completion_start_time",
    "model",
    "model_parameters",
    "input",
    "output",
    "metadata",
    "usage_details",
    "cost_details",
    "total_cost",
    "level",
    "status_message",
    "version",
    "environment",
    "prompt_name",
    "prompt_version",
    "user_id",
    "session_id",
    "is_root",
    "experiment",
    "created_at",
    "updated_at",
)


def map_spans(spans: Iterable[Span], now: str) -> Batch:
    """Observation rows (tuples in :data:`OBSERVATION_COLUMNS` order) and per-trace facts."""
    traces: dict[str, TraceRow] = {}
    rows: list[tuple[Any, ...]] = []
    dumps = json.dumps
    for span in spans:
        attrs = _without_deep_values(span)
        resource = span.resource
        obs_type = _observation_type(attrs)
        start = ns_to_ts(span.start_ns)
        end = ns_to_ts(span.end_ns) if span.end_ns else None
        as_root = bool(attrs.get("langfuse.internal.as_root"))
        is_root = (
            span.parent_span_id is None
            or as_root
            or bool(attrs.get("langfuse.internal.is_app_root"))
        )
        parent = None if as_root else span.parent_span_id

        level = attrs.get("langfuse.observation.level")
        level = level.upper() if isinstance(level, str) and level.upper() in LEVELS else "DEFAULT"
        if span.status_code == STATUS_ERROR:
            level = "ERROR"
        status_message = _str(attrs.get("langfuse.observation.status_message")) or _str(
            span.status_message
        )

        trace_meta = _metadata(attrs, _TRACE_META, _TRACE_META_PREFIX)
        metadata = {**trace_meta, **_metadata(attrs, _OBS_META, _OBS_META_PREFIX)}

        model = _str(attrs.get("langfuse.observation.model.name")) or _str(
            attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
        )
        params = attrs.get("langfuse.observation.model.parameters")
        usage_raw = attrs.get("langfuse.observation.usage_details")
        usage = normalize_usage(
            _decode(usage_raw) if usage_raw is not None else _gen_ai_usage(attrs)
        )
        cost = normalize_cost(_decode(attrs.get("langfuse.observation.cost_details")))

        prompt_name = prompt_version = None
        if obs_type in GENERATION_LIKE:
            prompt_name = _str(attrs.get("langfuse.observation.prompt.name"))
            raw_version = _number(attrs.get("langfuse.observation.prompt.version"))
            prompt_version = int(raw_version) if raw_version is not None and prompt_name else None

        env_attr = _str(attrs.get("langfuse.environment")) or _str(
            resource.get("langfuse.environment")
        )
        release = _str(attrs.get("langfuse.release")) or _str(resource.get("langfuse.release"))
        version = _str(attrs.get("langfuse.version"))
        user_id = _str(attrs.get("user.id"))
        session_id = _str(attrs.get("session.id"))
        experiment = {
            key[len(_EXPERIMENT_PREFIX) :]: value
            for key, value in attrs.items()
            if key.startswith(_EXPERIMENT_PREFIX)
        }
        input_text = _text(attrs.get("langfuse.observation.input"))
        output_text = _text(attrs.get("langfuse.observation.output"))

        rows.append(
            (
                span.span_id,
                span.trace_id,
                parent,
                obs_type,
                span.name,
                start,
                end,
                _completion_start(attrs.get("langfuse.observation.completion_start_time")),
                model,
                dumps(model_parameters(params)) if params is not None else None,
                input_text,
                output_text,
                dumps(metadata, ensure_ascii=False),
                dumps(usage),
                dumps(cost),
                cost.get("total"),
                level,
                status_message,
                version,
                env_attr or DEFAULT_ENVIRONMENT,
                prompt_name,
                prompt_version,
                user_id,
                session_id,
                1 if is_root else 0,
                dumps(experiment, ensure_ascii=False) if experiment else None,
                now,
                now,
            )
        )

        trace = traces.get(span.trace_id)
        if trace is None:
            trace = traces[span.trace_id] = TraceRow(id=span.trace_id, timestamp=start)
        elif start < trace.timestamp:
            trace.timestamp = start
        trace.name = _str(attrs.get("langfuse.trace.name")) or trace.name
        trace.user_id = user_id or trace.user_id
        trace.session_id = session_id or trace.session_id
        trace.release = release or trace.release
        trace.version = version or trace.version
        trace.environment = env_attr or trace.environment
        trace.metadata.update(trace_meta)
        tags = attrs.get("langfuse.trace.tags")
        if isinstance(tags, str):
            tags = [tags]
        if isinstance(tags, list):
            trace.tags.extend(str(tag) for tag in tags if str(tag) not in trace.tags)
        if attrs.get("langfuse.trace.public"):
            trace.public = True
        # Trace I/O set on the trace itself (``set_trace_io``) wins over the root span's.
        trace_input = attrs.get("langfuse.trace.input")
        if trace_input is not None:
            trace.input = _text(trace_input)
            trace.explicit_io.add("input")
        trace_output = attrs.get("langfuse.trace.output")
        if trace_output is not None:
            trace.output = _text(trace_output)
            trace.explicit_io.add("output")
        if is_root:
            # Langfuse builds a root span's trace metadata from its trace and its own metadata.
            trace.metadata.update(metadata)
            trace.root_name = span.name or trace.root_name
            trace.root_observation_id = span.span_id
            if input_text is not None and "input" not in trace.explicit_io:
                trace.input = input_text
            if output_text is not None and "output" not in trace.explicit_io:
                trace.output = output_text
    return Batch(traces=traces, observations=rows)


def decode_and_map(
    body: bytes,
    content_encoding: str | None,
    content_type: str | None,
    limit: int,
    now: str,
    budget: int = JSON_MEMORY_BUDGET,
) -> Batch:
    """A request body (as received) to its mapped batch: all the CPU work of one export.

    A plain top-level function of picklable arguments, so the server can run it in a worker
    process (:mod:`local_langfuse.ingest_pool`) as well as in a thread. ``budget`` bounds the
    memory that parsing a JSON body may take (:class:`OverBudgetError` otherwise).
    """
    spans = decode_request(decompress(body, content_encoding, limit), content_type, budget)
    return map_spans(spans, now)


# --- storage ----------------------------------------------------------------------------


# The worker process keeps one Database per file for all the exports it stores.
_databases: dict[str, Database] = {}


def ingest_into(
    db_path: str,
    body: bytes,
    content_encoding: str | None,
    content_type: str | None,
    limit: int,
    now: str,
) -> int:
    """Decode, map and store one export in the SQLite file ``db_path``; the spans stored.

    The ingestion worker's job: the server process sends the raw body and gets a number back,
    so neither the mapping nor the rows cost it GIL time. SQLite serialises this process's
    writes with the server's (``BEGIN IMMEDIATE`` with a busy timeout, WAL for readers).
    Storing a batch twice leaves the same rows (upserts), so a retried job is harmless.
    """
    batch = decode_and_map(body, content_encoding, content_type, limit, now)
    if batch.observations:
        db = _databases.get(db_path)
        if db is None:
            db = _databases[db_path] = Database(Path(db_path))
        with db.write() as conn:
            write_batch(conn, batch, now)
    return len(batch.observations)


_UPSERT_OBSERVATION = (
    f"INSERT INTO observations ({', '.join(OBSERVATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in OBSERVATION_COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(
        f"{col} = json_patch(observations.{col}, excluded.{col})"
        if col in ("metadata", "usage_details", "cost_details")
        else f"{col} = COALESCE(excluded.{col}, observations.{col})"
        for col in OBSERVATION_COLUMNS
        if col not in ("id", "created_at")
    )
)

TRACE_COLUMNS = (
    "id",
    "name",
    "root_name",
    "root_observation_id",
    "timestamp",
    "user_id",
    "session_id",
    "release",
    "version",
    "input",
    "output",
    "metadata",
    "tags",
    "environment",
    "public",
    "created_at",
    "updated_at",
)
_UPSERT_TRACE = (
    f"INSERT INTO traces ({', '.join(TRACE_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in TRACE_COLUMNS)}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(
        f"{col} = excluded.{col}" for col in TRACE_COLUMNS if col not in ("id", "created_at")
    )
)
_CHUNK = 500


def _merged_trace(new: TraceRow, old: sqlite3.Row | None, now: str) -> tuple[Any, ...]:
    if old is None:
        metadata, tags, created = new.metadata, new.tags, now
        timestamp, public = new.timestamp, new.public
        fallback: dict[str, Any] = {}
    else:
        metadata = {**json.loads(old["metadata"]), **new.metadata}
        tags = list(json.loads(old["tags"]))
        tags.extend(tag for tag in new.tags if tag not in tags)
        created = old["created_at"]
        timestamp = min(old["timestamp"], new.timestamp)
        public = new.public or bool(old["public"])
        fallback = dict(old)

    def pick(name: str) -> Any:
        value = getattr(new, name)
        return value if value is not None else fallback.get(name)

    return (
        new.id,
        pick("name"),
        pick("root_name"),
        pick("root_observation_id"),
        timestamp,
        pick("user_id"),
        pick("session_id"),
        pick("release"),
        pick("version"),
        pick("input"),
        pick("output"),
        json.dumps(metadata, ensure_ascii=False),
        json.dumps(tags, ensure_ascii=False),
        pick("environment") or DEFAULT_ENVIRONMENT,
        1 if public else 0,
        created,
        now,
    )


def write_batch(conn: sqlite3.Connection, batch: Batch, now: str) -> None:
    """Store a mapped batch; call inside one write transaction."""
    ids = list(batch.traces)
    existing: dict[str, sqlite3.Row] = {}
    for offset in range(0, len(ids), _CHUNK):
        chunk = ids[offset : offset + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        for row in conn.execute(f"SELECT * FROM traces WHERE id IN ({marks})", chunk):
            existing[row["id"]] = row
    conn.executemany(
        _UPSERT_TRACE,
        [_merged_trace(trace, existing.get(tid), now) for tid, trace in batch.traces.items()],
    )
    conn.executemany(_UPSERT_OBSERVATION, batch.observations)
