"""An OpenAI-compatible chat-completions server for tests and benchmarks.

It replaces the model, never the SDKs: the unmodified ``openai`` client and ``instructor`` talk to
it over real HTTP. Structured answers are synthesized from the JSON schema the request carries
(TOOLS, JSON_SCHEMA, JSON and MD_JSON modes), deterministically from the request's messages, and
faults are injected in order with :meth:`FakeModelState.enqueue`, like simonw/llm's mock model.
With ``sample_temperature`` on, a request with ``temperature > 0`` is answered from a fresh seed
each time (like a sampled model: asking twice may give two answers); temperature 0 stays
deterministic. A prompt can script its answer: a message line
``FAKE-ANSWER: {"label": "spam"}`` fixes those top-level fields of the structured answer (the
rest are synthesized), so a test can build a variant that answers right
(``{"label": "{{expected}}"}``) next to one that guesses.

Run it in its own process (benchmarks)::

    python -m tests.support.fake_openai --port 0 --latency-ms 200 --no-history
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import hashlib
import json
import random
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from local_langfuse.server import LOOPBACK, ThreadedUvicorn, bind_socket

JsonDict = dict[str, Any]

_SCHEMA_MARKER = "json_schema"
_SCRIPT_MARKER = "FAKE-ANSWER:"
_FALLBACK_WORDS = (
    "alpha",
    "bravo",
    "cedar",
    "delta",
    "ember",
    "falcon",
    "granite",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "meadow",
    "nimbus",
    "orchid",
    "pepper",
)
_MAX_DEPTH = 8


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour, consumed by exactly one chat-completions request.

    Attributes:
        status: answer with this HTTP error status (e.g. 500, 429, 400) instead of a completion.
        retry_after: seconds for the ``Retry-After`` header (sent with any error status).
        invalid_json: answer normally, but with tool arguments / content that are not valid JSON
            (forces an instructor validation retry).
        delay_s: sleep this long before answering (longer than the client timeout → timeout).
        finish_reason: override the finish reason of a normal answer (e.g. ``"length"``).
        message: the error message for ``status`` faults.
    """

    status: int | None = None
    retry_after: float | None = None
    invalid_json: bool = False
    delay_s: float = 0.0
    finish_reason: str | None = None
    message: str = "Injected fault from the fake OpenAI server"

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(
                f"Fault.status must be an HTTP error status (400-599), got {self.status}"
            )


@dataclass
class FakeModelState:
    """What the fake model does and what it saw. Safe to use from the test thread.

    Attributes:
        latency_ms: sleep (asyncio) before every normal answer; for benchmarks.
        record_history: keep request bodies in :attr:`history` (turn off for benchmarks).
        history_limit: keep at most this many recent request bodies.
        fail_when_content_contains: ``{"BOOM": 500}`` fails, with that status, every request
            whose messages contain the substring; checked before (and without consuming) faults.
        api_key: when set, requests without ``Authorization: Bearer <api_key>`` get a 401.
        models: ids listed by ``GET /v1/models``.
        sample_temperature: answer requests with ``temperature > 0`` from a fresh random seed
            (unscripted fields vary between identical requests).
        tokenize: serve llama.cpp's ``POST /tokenize`` (one token per whitespace-separated
            word), counted in :attr:`tokenize_count`, never in :attr:`request_count`.
    """

    latency_ms: float = 0.0
    record_history: bool = True
    history_limit: int = 10_000
    fail_when_content_contains: dict[str, int] = field(default_factory=dict)
    api_key: str | None = None
    models: tuple[str, ...] = ("gpt-4o-mini", "fake-model")
    sample_temperature: bool = False
    tokenize: bool = False
    request_count: int = field(default=0, init=False)
    tokenize_count: int = field(default=0, init=False)
    _faults: deque[Fault] = field(default_factory=deque, init=False, repr=False)
    _history: deque[JsonDict] = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._history = deque(maxlen=self.history_limit)

    def enqueue(self, *faults: Fault) -> None:
        """Queue faults; each following request consumes one, in order, before normal answers."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def history(self) -> list[JsonDict]:
        """A snapshot of the recorded chat-completions request bodies, oldest first."""
        with self._lock:
            return list(self._history)

    def clear(self) -> None:
        """Forget history, the request count and pending faults."""
        with self._lock:
            self._history.clear()
            self._faults.clear()
            self.request_count = 0

    def _admit(self, body: JsonDict, consume_fault: bool) -> Fault | None:
        with self._lock:
            self.request_count += 1
            if self.record_history:
                self._history.append(body)
            return self._faults.popleft() if consume_fault and self._faults else None


# --------------------------------------------------------------------------- schema → instance


def _digest(*parts: str | bytes) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x1f")
    return h.digest()


class _Synthesizer:
    """Builds one instance of a JSON schema. Each leaf draws from a seed chosen per field path:
    mostly the *sample* seed (non-system messages, shared by prompt versions), sometimes the
    *full* seed (all messages + model), so two prompt versions agree on some fields only."""

    def __init__(
        self, root: JsonDict, full_seed: bytes, sample_seed: bytes, words: tuple[str, ...]
    ):
        self.root = root
        self.full_seed = full_seed
        self.sample_seed = sample_seed
        self.words = words or _FALLBACK_WORDS

    def rng(self, path: str) -> random.Random:
        chooser = _digest(self.full_seed, "choose", path)
        seed = self.full_seed if chooser[0] % 3 == 0 else self.sample_seed
        return random.Random(int.from_bytes(_digest(seed, path), "big"))

    def resolve(self, schema: JsonDict, depth: int = 0) -> JsonDict:
        while "$ref" in schema and depth < 32:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                return {}
            target: Any = self.root
            for token in ref.lstrip("#").strip("/").split("/"):
                if not token:
                    continue
                token = token.replace("~1", "/").replace("~0", "~")
                target = target.get(token, {}) if isinstance(target, dict) else {}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else rest
            depth += 1
        if "allOf" in schema and isinstance(schema["allOf"], list):
            merged: JsonDict = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                part = self.resolve(part, depth + 1) if isinstance(part, dict) else {}
                for key, value in part.items():
                    if key == "properties":
                        merged["properties"] = {**merged.get("properties", {}), **value}
                    elif key == "required":
                        merged["required"] = [*merged.get("required", []), *value]
                    else:
                        merged.setdefault(key, value)
            schema = merged
        return schema

    def value(self, schema: Any, path: str, depth: int = 0) -> Any:
        if not isinstance(schema, dict):
            return None if schema is False else self.string({}, path)
        schema = self.resolve(schema)
        rng = self.rng(path)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self.value(self.pick_option(options, rng, depth), path, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            non_null = [k for k in kind if k != "null"]
            if not non_null or (depth >= _MAX_DEPTH and "null" in kind):
                return None
            kind = non_null[0] if rng.random() < 0.85 or "null" not in kind else "null"
        if kind is None:
            if "properties" in schema:
                kind = "object"
            elif "items" in schema or "prefixItems" in schema:
                kind = "array"
            else:
                kind = "string"
        if kind == "object":
            return self.object(schema, path, depth)
        if kind == "array":
            return self.array(schema, path, depth)
        if kind == "integer":
            return self.integer(schema, rng)
        if kind == "number":
            return self.number(schema, rng)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        return self.string(schema, path)

    def pick_option(self, options: list[Any], rng: random.Random, depth: int) -> Any:
        nulls = [o for o in options if isinstance(o, dict) and o.get("type") == "null"]
        others = [o for o in options if o not in nulls]
        if not others:
            return nulls[0]
        if nulls and (depth >= _MAX_DEPTH or rng.random() < 0.2):
            return nulls[0]
        return rng.choice(others)

    def object(self, schema: JsonDict, path: str, depth: int) -> JsonDict:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        out: JsonDict = {}
        for name, sub in props.items():
            child = f"{path}.{name}"
            if name not in required:
                keep = self.rng(child + "?").random() < (0.75 if depth < _MAX_DEPTH else 0.0)
                if not keep:
                    continue
            out[name] = self.value(sub, child, depth + 1)
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth < _MAX_DEPTH:
            count = max(int(schema.get("minProperties", 0)), self.rng(path + "#").randint(1, 2))
            for i in range(count):
                key = f"{self.word(self.rng(f'{path}#k{i}'))}_{i + 1}"
                out[key] = self.value(extra, f"{path}.{key}", depth + 1)
        return out

    def array(self, schema: JsonDict, path: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(s, f"{path}[{i}]", depth + 1) for i, s in enumerate(prefix)]
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", max(lo, 3)))
        if depth >= _MAX_DEPTH:
            hi = lo
        elif depth >= _MAX_DEPTH // 2:
            hi = min(hi, max(lo, 1))  # keep recursive structures small
        lo_default = max(lo, 1) if hi >= 1 else 0
        count = self.rng(path + "#n").randint(min(lo_default, hi), hi)
        items = schema.get("items", {})
        if not schema.get("uniqueItems"):
            return [self.value(items, f"{path}[{i}]", depth + 1) for i in range(count)]
        out: list[Any] = []
        seen: set[str] = set()
        for i in range(count * 4 + 4):
            if len(out) >= count:
                break
            item = self.value(items, f"{path}[{i}]", depth + 1)
            key = json.dumps(item, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(item)
        return out

    @staticmethod
    def bounds(
        schema: JsonDict, default_lo: float, default_hi: float
    ) -> tuple[float, float, bool, bool]:
        lo, hi = schema.get("minimum"), schema.get("maximum")
        ex_lo, ex_hi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        lo_excl = hi_excl = False
        if isinstance(ex_lo, bool):  # draft-04 style
            lo_excl = ex_lo
        elif ex_lo is not None and (lo is None or ex_lo >= lo):
            lo, lo_excl = ex_lo, True
        if isinstance(ex_hi, bool):
            hi_excl = ex_hi
        elif ex_hi is not None and (hi is None or ex_hi <= hi):
            hi, hi_excl = ex_hi, True
        if lo is None and hi is None:
            lo, hi = default_lo, default_hi
        elif lo is None:
            lo = min(float(hi) - (default_hi - default_lo), float(hi))  # type: ignore[arg-type]
        elif hi is None:
            hi = float(lo) + (default_hi - default_lo)
        return float(lo), float(hi), lo_excl, hi_excl  # type: ignore[arg-type]

    def integer(self, schema: JsonDict, rng: random.Random) -> int:
        lo_f, hi_f, lo_excl, hi_excl = self.bounds(schema, 0, 100)
        lo = int(lo_f) + 1 if lo_excl and lo_f == int(lo_f) else -int(-lo_f // 1)
        hi = int(hi_f) - 1 if hi_excl and hi_f == int(hi_f) else int(hi_f // 1)
        if hi < lo:
            hi = lo
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first, last = -(-lo // step), hi // step
            if first <= last:
                return rng.randint(first, last) * step
        return rng.randint(lo, hi)

    def number(self, schema: JsonDict, rng: random.Random) -> float | int:
        lo, hi, lo_excl, hi_excl = self.bounds(schema, 0.0, 100.0)
        step = schema.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            first, last = int(-(-lo // step)), int(hi // step)
            candidates = [k for k in (first, first + 1, last - 1, last) if first <= k <= last]
            candidates = [
                k
                for k in candidates
                if not ((lo_excl and k * step <= lo) or (hi_excl and k * step >= hi))
            ]
            if candidates:
                k = rng.randint(min(candidates), max(candidates))
                return k * step if isinstance(step, int) else round(k * step, 10)
        for _ in range(8):
            value = round(lo + rng.random() * (hi - lo), 2)
            if (lo < value or (not lo_excl and lo <= value)) and (
                value < hi or (not hi_excl and value <= hi)
            ):
                return value
        return (lo + hi) / 2

    def word(self, rng: random.Random) -> str:
        return rng.choice(self.words)

    def string(self, schema: JsonDict, path: str) -> str:
        rng = self.rng(path)
        fmt = schema.get("format")
        name = path.rsplit(".", 1)[-1].lower()
        if fmt == "date-time":
            return (
                dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randint(0, 10**6))
            ).isoformat()
        if fmt == "date":
            return (dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 700))).isoformat()
        if fmt == "time":
            return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        if fmt == "uuid":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if fmt == "email" or (fmt is None and name.endswith("email") and "maxLength" not in schema):
            return f"{self.slug(rng)}@example.com"
        if fmt in ("uri", "url") or fmt == "uri-reference":
            return f"https://example.com/{self.slug(rng)}"
        if fmt == "ipv4":
            return ".".join(str(rng.randint(1, 254)) for _ in range(4))
        lo = int(schema.get("minLength", 0))
        hi = int(schema.get("maxLength", max(lo, 60)))
        text = " ".join(self.word(rng) for _ in range(rng.randint(1, 4)))
        while len(text) < lo:
            text = f"{text} {self.word(rng)}"
        text = text[:hi]
        if len(text.rstrip()) >= lo:
            text = text.rstrip()
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            text = self.matching(pattern, text, rng, lo, hi)
        return text

    def matching(self, pattern: str, text: str, rng: random.Random, lo: int, hi: int) -> str:
        """Best effort for ``pattern``: try a few shapes; unusual patterns may not match."""
        try:
            regex = re.compile(pattern)
        except re.error:
            return text
        word = self.slug(rng)
        digits = "".join(str(rng.randint(0, 9)) for _ in range(max(lo, 12)))
        shapes = [text, word, word.upper(), word.capitalize(), f"{word}-{digits[:3]}"]
        shapes += [digits[:n] for n in range(1, len(digits) + 1)]
        shapes += [f"{word.upper()[:3]}-{digits[:4]}", f"+1{digits[:10]}", "a", "A1", "0"]
        for shape in shapes:
            if lo <= len(shape) <= hi and regex.search(shape):
                return shape
        return text

    def slug(self, rng: random.Random) -> str:
        return re.sub(r"[^a-z0-9]+", ".", self.word(rng).lower()).strip(".") or "user"


@functools.lru_cache(maxsize=4096)
def _synthesize_json(
    schema_json: str, full_seed: bytes, sample_seed: bytes, words: tuple[str, ...]
) -> str:
    schema = json.loads(schema_json)
    instance = _Synthesizer(schema, full_seed, sample_seed, words).value(schema, "$")
    return json.dumps(instance, ensure_ascii=False)


def synthesize(schema: JsonDict, messages: list[Any], model: str = "") -> Any:
    """An instance of ``schema``, deterministic from the messages (and model)."""
    return json.loads(_instance_json(schema, messages, model))


def _instance_json(schema: JsonDict, messages: list[Any], model: str) -> str:
    full_seed, sample_seed, words = _seeds(messages, model)
    return _synthesize_json(json.dumps(schema, sort_keys=True), full_seed, sample_seed, words)


# --------------------------------------------------------------------------- requests


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else json.dumps(content, sort_keys=True)


def _seeds(messages: list[Any], model: str) -> tuple[bytes, bytes, tuple[str, ...]]:
    full = hashlib.blake2b(model.encode(), digest_size=16)
    sample = hashlib.blake2b(digest_size=16)
    words: dict[str, None] = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", ""))
        text = _text_of(message.get("content"))
        chunk = f"{role}\x00{text}\x01".encode()
        full.update(chunk)
        if role not in ("system", "developer"):
            sample.update(chunk)
            if role == "user" and not words:  # the sample, not instructor's own instructions
                for word in re.findall(r"[A-Za-z][A-Za-z0-9'-]{2,}", text)[:200]:
                    words.setdefault(word, None)
    return full.digest(), sample.digest(), tuple(words)[:64]


def _schema_in_messages(messages: list[Any]) -> JsonDict | None:
    """The JSON schema instructor writes into the system message in JSON / MD_JSON modes."""
    ordered = sorted(
        (m for m in messages if isinstance(m, dict)), key=lambda m: m.get("role") != "system"
    )
    for message in ordered:
        text = _text_of(message.get("content"))
        at = text.find(_SCHEMA_MARKER)
        while at != -1:
            start = text.find("{", at)
            if start == -1:
                break
            try:
                found, _ = json.JSONDecoder().raw_decode(text, start)
            except ValueError:
                found = None
            if isinstance(found, dict) and (
                {"properties", "type", "$defs", "anyOf"} & found.keys()
            ):
                return found
            at = text.find(_SCHEMA_MARKER, at + 1)
    return None


def _scripted_fields(messages: list[Any]) -> JsonDict:
    """Fields fixed by ``FAKE-ANSWER: {...}`` lines in the messages (later lines win)."""
    fields: JsonDict = {}
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = _text_of(message.get("content"))
        at = text.find(_SCRIPT_MARKER)
        while at != -1:
            start = at + len(_SCRIPT_MARKER)
            start += len(text[start:]) - len(text[start:].lstrip())
            try:
                found, _ = json.JSONDecoder().raw_decode(text, start)
            except ValueError:
                found = None
            if isinstance(found, dict):
                fields.update(found)
            at = text.find(_SCRIPT_MARKER, at + 1)
    return fields


def _scripted(payload: str, messages: list[Any]) -> str:
    fields = _scripted_fields(messages)
    if not fields:
        return payload
    instance = json.loads(payload)
    if not isinstance(instance, dict):
        return payload
    instance.update(fields)
    return json.dumps(instance, ensure_ascii=False)


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    kinds = {
        400: ("invalid_request_error", None),
        401: ("authentication_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }
    kind, code = kinds.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else None
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _break(payload: str) -> str:
    """Not valid JSON: cut in the middle and leave an object open."""
    return payload[: max(1, len(payload) // 2)] + ' "oops'


class _Answer:
    """The assistant message for one request: text, or tool calls."""

    def __init__(self, content: str | None, tool_calls: list[JsonDict], finish_reason: str):
        self.content = content
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason

    def message(self) -> JsonDict:
        msg: JsonDict = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        return msg

    def text_size(self) -> int:
        return len(self.content or "") + sum(
            len(c["function"]["arguments"]) + len(c["function"]["name"]) for c in self.tool_calls
        )


def _answer(body: JsonDict, invalid_json: bool, sampled: bool = False) -> _Answer:
    messages: list[Any] = body["messages"]
    if sampled:  # a fresh seed: the nonce joins the messages the answer is derived from
        messages = [*messages, {"role": "user", "content": uuid.uuid4().hex}]
    model = str(body.get("model", ""))
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and "function" in t]
    choice = body.get("tool_choice")
    if tools and choice != "none":
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name") or choice.get("name")
            chosen = [t for t in tools if t["function"].get("name") == wanted] or tools[:1]
        else:
            chosen = tools
        calls = []
        for i, tool in enumerate(chosen):
            fn = tool["function"]
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            args = _instance_json(params, [*messages, {"role": "tool", "content": str(i)}], model)
            args = _scripted(args, messages)
            call_id = "call_" + _digest(args, str(i)).hex()[:24]
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {
                        "name": str(fn.get("name", "tool")),
                        "arguments": _break(args) if invalid_json else args,
                    },
                }
            )
        return _Answer(None, calls, "tool_calls")

    fmt = body.get("response_format") or {}
    fmt_type = fmt.get("type") if isinstance(fmt, dict) else None
    schema: JsonDict | None = None
    fenced = False
    if fmt_type == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {"type": "object"}
    elif fmt_type == "json_object":
        schema = _schema_in_messages(messages) or {
            "type": "object",
            "properties": {"answer": {"type": "string"}},
            "required": ["answer"],
        }
    else:
        schema = _schema_in_messages(messages)
        fenced = schema is not None
    if schema is not None:
        payload = _scripted(_instance_json(schema, messages, model), messages)
        if invalid_json:
            payload = _break(payload)
        content = f"```json\n{payload}\n```" if fenced else payload
        return _Answer(content, [], "stop")

    full_seed, _, words = _seeds(messages, model)
    rng = random.Random(int.from_bytes(full_seed, "big"))
    pool = words or _FALLBACK_WORDS
    reply = " ".join(rng.choice(pool) for _ in range(rng.randint(3, 9)))
    return _Answer(f"Fake reply about {reply}.", [], "stop")


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array of {role, content} objects."
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        return "Every message needs a 'role'."
    return None


def _completion(body: JsonDict, answer: _Answer) -> JsonDict:
    prompt_chars = sum(len(_text_of(m.get("content"))) for m in body["messages"])
    if body.get("tools"):
        prompt_chars += len(json.dumps(body["tools"]))
    prompt_tokens = _estimate_tokens("x" * prompt_chars)
    completion_tokens = _estimate_tokens("x" * answer.text_size())
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "system_fingerprint": "fp_fake_openai",
        "choices": [
            {
                "index": 0,
                "message": answer.message(),
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def _chunks(completion: JsonDict, include_usage: bool) -> Iterable[JsonDict]:
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: JsonDict, finish: str | None = None) -> JsonDict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": "" if message["content"] is not None else None})
    content = message["content"] or ""
    for i in range(0, len(content), 16):
        yield chunk({"content": content[i : i + 16]})
    for index, call in enumerate(message.get("tool_calls") or []):
        head = {"index": index, "id": call["id"], "type": "function"}
        yield chunk(
            {
                "tool_calls": [
                    {**head, "function": {"name": call["function"]["name"], "arguments": ""}}
                ]
            }
        )
        args = call["function"]["arguments"]
        for i in range(0, len(args), 16):
            piece = {"index": index, "function": {"arguments": args[i : i + 16]}}
            yield chunk({"tool_calls": [piece]})
    yield chunk({}, choice["finish_reason"])
    if include_usage:
        yield {**base, "choices": [], "usage": completion["usage"]}


async def _sse(completion: JsonDict, include_usage: bool) -> AsyncIterator[bytes]:
    for chunk in _chunks(completion, include_usage):
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    yield b"data: [DONE]\n\n"


# --------------------------------------------------------------------------- app


def create_app(state: FakeModelState) -> FastAPI:
    """The FastAPI app: ``POST /v1/chat/completions`` and ``GET /v1/models``."""
    app = FastAPI(title="fake-openai", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.fake = state

    def unauthorized(request: Request) -> JSONResponse | None:
        if state.api_key is None:
            return None
        if request.headers.get("authorization") == f"Bearer {state.api_key}":
            return None
        return _error(401, "Incorrect API key provided. Pass the fake server's api_key.")

    @app.post("/tokenize")
    async def tokenize(request: Request) -> Response:
        if not state.tokenize:
            return JSONResponse({"error": "not found"}, status_code=404)
        body = await request.json()
        with state._lock:
            state.tokenize_count += 1
        words = str(body.get("content", "")).split()
        return JSONResponse({"tokens": list(range(len(words)))})

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in state.models
        ]
        return JSONResponse({"object": "list", "data": data})

    @app.get("/v1/models/{model_id}")
    async def get_model(model_id: str, request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        if model_id not in state.models:
            return _error(
                404, f"The model '{model_id}' does not exist. Known: {list(state.models)}"
            )
        return JSONResponse({"id": model_id, "object": "model", "created": 0, "owned_by": "fake"})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        if (denied := unauthorized(request)) is not None:
            return denied
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "The request body is not valid JSON.")
        if (problem := _validate(body)) is not None:
            return _error(400, problem)
        texts = [_text_of(m.get("content")) for m in body["messages"]]
        rule = next(
            (
                (needle, status)
                for needle, status in state.fail_when_content_contains.items()
                if any(needle in text for text in texts)
            ),
            None,
        )
        fault = state._admit(body, consume_fault=rule is None)
        if rule is not None:
            return _error(rule[1], f"Injected failure: the messages contain {rule[0]!r}.")
        if fault is not None and fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            return _error(fault.status, fault.message, fault.retry_after)
        if state.latency_ms > 0:
            await asyncio.sleep(state.latency_ms / 1000)
        temperature = body.get("temperature")
        sampled = (
            state.sample_temperature
            and isinstance(temperature, int | float)
            and not isinstance(temperature, bool)
            and temperature > 0
        )
        answer = _answer(body, fault is not None and fault.invalid_json, sampled)
        if fault is not None and fault.finish_reason is not None:
            answer.finish_reason = fault.finish_reason
        completion = _completion(body, answer)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
            return StreamingResponse(
                _sse(completion, include_usage), media_type="text/event-stream"
            )
        return Response(json.dumps(completion, ensure_ascii=False), media_type="application/json")

    return app


class FakeOpenAIServer(ThreadedUvicorn):
    """The fake in a daemon thread of this process, on a free port. A context manager.

    Point the client at ``base_url`` (it ends with ``/v1``).
    """

    name = "fake-openai"

    def __init__(
        self, state: FakeModelState | None = None, host: str = LOOPBACK, port: int = 0
    ) -> None:
        super().__init__(host, port)
        self.state = state if state is not None else FakeModelState()

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def build_app(self) -> FastAPI:
        return create_app(self.state)

    def uvicorn_config(self, app: Any) -> uvicorn.Config:
        return _uvicorn_config(app)


def _uvicorn_config(app: FastAPI, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        backlog=2048,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground; print ``READY <base_url>`` once listening."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_openai")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--no-history", action="store_true", help="don't record request bodies")
    parser.add_argument(
        "--sample-temperature",
        action="store_true",
        help="answer requests with temperature > 0 from a fresh seed each time",
    )
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    state = FakeModelState(
        latency_ms=args.latency_ms,
        record_history=not args.no_history,
        sample_temperature=args.sample_temperature,
    )
    sock = bind_socket(args.host, args.port)
    server = uvicorn.Server(_uvicorn_config(create_app(state), args.log_level))
    host = f"[{args.host}]" if ":" in args.host else args.host
    base_url = f"http://{host}:{sock.getsockname()[1]}/v1"

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            print(f"READY {base_url}", flush=True)

    threading.Thread(target=announce, name="announce", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
