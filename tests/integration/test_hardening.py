"""local-langfuse against hostile requests: each finding of the security review, with a test.

Every test talks to a running server (raw HTTP, where the SDK would hide the status) and names
the Langfuse source it mirrors where Langfuse has the rule, else the review's finding.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer, ServerConfig
from local_langfuse.config import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY
from local_langfuse.ingest import MAX_SPANS_PER_REQUEST
from local_langfuse.ingest_pool import IngestPool
from local_langfuse.routes.scores import MAX_BATCH_SCORES
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, cli_command, free_port

AUTH = (PUBLIC_KEY, SECRET_KEY)
OTLP = "/api/public/otel/v1/traces"
OBSERVATIONS = "/api/public/v2/observations"
PROTOBUF = {"content-type": "application/x-protobuf"}


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def otlp(trace_id: str, spans: dict[str, dict[str, str]]) -> bytes:
    """An OTLP protobuf export: one root span per ``{span_id: attributes}``."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for index, (span_id, attrs) in enumerate(spans.items()):
        span = scope.spans.add()
        span.trace_id = bytes.fromhex(trace_id)
        span.span_id = bytes.fromhex(span_id)
        span.name = f"span-{index}"
        span.start_time_unix_nano = 1_767_225_600_000_000_000 + index
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000
        span.attributes.extend(_kv(k, v) for k, v in attrs.items())
    return request.SerializeToString()


def observations(api: httpx.Client, trace_id: str) -> dict[str, dict[str, Any]]:
    response = api.get(
        OBSERVATIONS,
        params={"traceId": trace_id, "fields": "core,basic,metadata,model,usage", "limit": 1000},
    )
    assert response.status_code == 200, response.text
    return {obs["id"]: obs for obs in response.json()["data"]}


def _server(tmp_path: Path, **overrides: Any) -> LocalLangfuseServer:
    config = ServerConfig(
        db_path=tmp_path / "hardening.sqlite3",
        public_key=PUBLIC_KEY,
        secret_key=SecretStr(SECRET_KEY),
        **overrides,
    )
    return LocalLangfuseServer(config).start()


# --- keys on a reachable address ----------------------------------------------------------


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LANGFUSE_")}
    return subprocess.Popen(
        [*cli_command(), "local-langfuse", *args],
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stderr_until_serving(process: subprocess.Popen[str]) -> str:
    """What the CLI printed up to its "local-langfuse on ..." line (it then starts serving)."""
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("local-langfuse on "):
            return "".join(lines)
    raise AssertionError(f"exited with {process.wait()}: {''.join(lines)}")


def _wait_healthy(base_url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/api/public/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("local-langfuse did not answer /api/public/health within 60 s")


def test_allow_remote_without_keys_generates_keys_and_never_serves_the_default_ones(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = _cli(
        "--host", "0.0.0.0", "--port", str(port), "--db", str(tmp_path / "r.db"), "--allow-remote",
        env={},
    )  # fmt: skip
    try:
        printed = _stderr_until_serving(process)
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(base_url)
        keys = dict(line.strip().split("=", 1) for line in printed.splitlines() if "_KEY=" in line)
        generated = (keys["LANGFUSE_PUBLIC_KEY"], keys["LANGFUSE_SECRET_KEY"])
        with_defaults = httpx.get(
            f"{base_url}/api/public/v2/prompts", auth=(DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY)
        )
        with_generated = httpx.get(f"{base_url}/api/public/v2/prompts", auth=generated)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert generated[0].startswith("pk-lf-")
    assert generated[1].startswith("sk-lf-")
    assert DEFAULT_SECRET_KEY not in printed
    assert with_defaults.status_code == 401
    assert with_generated.status_code == 200


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"LANGFUSE_PUBLIC_KEY": "pk-lf-mine"}, "LANGFUSE_SECRET_KEY is not set"),
        ({"LANGFUSE_SECRET_KEY": "sk-lf-mine"}, "LANGFUSE_PUBLIC_KEY is not set"),
        (
            {"LANGFUSE_PUBLIC_KEY": DEFAULT_PUBLIC_KEY, "LANGFUSE_SECRET_KEY": DEFAULT_SECRET_KEY},
            "default keys",
        ),
    ],
)
def test_allow_remote_refuses_half_a_key_pair_and_the_default_keys(
    tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    process = _cli(
        "--host", "0.0.0.0", "--port", "0", "--db", str(tmp_path / "r.db"), "--allow-remote",
        env=env,
    )  # fmt: skip
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert fragment in stderr
    assert not (tmp_path / "r.db").exists()


def test_only_one_key_set_is_an_error_on_loopback_too(tmp_path: Path) -> None:
    process = _cli(
        "--port", "0", "--db", str(tmp_path / "r.db"), env={"LANGFUSE_PUBLIC_KEY": "pk-lf-x"}
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "LANGFUSE_SECRET_KEY" in stderr


def test_the_server_class_refuses_the_default_keys_off_loopback(tmp_path: Path) -> None:
    config = ServerConfig(db_path=tmp_path / "x.db")
    with pytest.raises(ValueError, match="default keys"):
        LocalLangfuseServer(config, host="0.0.0.0")
    assert not (tmp_path / "x.db").exists()


# --- Host header (DNS rebinding) ----------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/public/health", "/api/public/v2/prompts"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:3999", "127.0.0.1.evil.example"])
def test_a_foreign_host_header_is_refused(
    lf_server: LocalLangfuseServer, path: str, host: str
) -> None:
    response = httpx.get(lf_server.base_url + path, headers={"Host": host}, auth=AUTH)
    assert response.status_code == 400
    assert "Host header" in response.json()["message"]
    assert "--allowed-host" in response.json()["message"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:1", "[::1]:3999"])
def test_the_bound_address_and_localhost_are_answered(
    lf_server: LocalLangfuseServer, host: str
) -> None:
    response = httpx.get(
        lf_server.base_url + "/api/public/v2/prompts", headers={"Host": host}, auth=AUTH
    )
    assert response.status_code == 200, response.text


def test_a_configured_host_name_is_answered(tmp_path: Path) -> None:
    server = _server(tmp_path, allowed_hosts=("langfuse.internal",))
    try:
        allowed = httpx.get(
            server.base_url + "/api/public/health", headers={"Host": "langfuse.internal:3999"}
        )
        other = httpx.get(server.base_url + "/api/public/health", headers={"Host": "other.lan"})
    finally:
        server.stop()
    assert allowed.status_code == 200
    assert other.status_code == 400


# --- one message for every failed credential check ----------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "header",
    [
        _basic(PUBLIC_KEY, "sk-lf-wrong"),
        _basic("pk-lf-unknown", SECRET_KEY),
        _basic("pk-lf-unknown", "sk-lf-unknown"),
        _basic(PUBLIC_KEY, ""),
        "Basic not-base64!",
        "Bearer pk-lf-unknown",
        "Token something",
    ],
)
def test_every_failed_credential_check_gets_the_same_answer(
    lf_server: LocalLangfuseServer, header: str
) -> None:
    """apiAuth.ts answers "Invalid credentials" whether the public key exists or not."""
    response = httpx.get(
        lf_server.base_url + "/api/public/traces", headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert response.json() == {
        "message": "Invalid credentials. Confirm that you've configured the correct host.",
        "error": "UnauthorizedError",
    }


# --- page numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/public/traces",
        "/api/public/v2/datasets",
        "/api/public/dataset-items?datasetName=none",
        "/api/public/v2/prompts",
    ],
)
@pytest.mark.parametrize("page", ["1e20", str(10**20), str(2**63)])
def test_huge_page_numbers_are_a_400(api: httpx.Client, path: str, page: str) -> None:
    separator = "&" if "?" in path else "?"
    response = api.get(f"{path}{separator}page={page}")
    assert response.status_code == 400, response.text
    assert "page" in json.dumps(response.json())


@pytest.mark.parametrize("path", ["/api/public/traces", OBSERVATIONS, "/api/public/v3/scores"])
def test_huge_limits_are_a_400(api: httpx.Client, path: str) -> None:
    assert api.get(path, params={"limit": str(10**20)}).status_code == 400


# --- deeply nested attribute values -------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "langfuse.observation.metadata",
        "langfuse.observation.usage_details",
        "langfuse.observation.model.parameters",
        "langfuse.trace.metadata",
    ],
)
def test_a_deeply_nested_attribute_is_dropped_and_its_span_stored(
    api: httpx.Client, caplog: pytest.LogCaptureFixture, key: str
) -> None:
    trace_id, deep_span, plain_span = os.urandom(16).hex(), os.urandom(8).hex(), os.urandom(8).hex()
    deep = "[" * 5000 + "]" * 5000
    body = otlp(
        trace_id,
        {
            deep_span: {
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "gpt-x",
                key: deep,
                "langfuse.observation.metadata.kept": '"yes"',
            },
            plain_span: {"langfuse.observation.metadata": '{"fine": [1, [2, [3]]]}'},
        },
    )
    with caplog.at_level(logging.WARNING, logger="local_langfuse.ingest"):
        # gzip keeps the body small, so it is ingested in this process and its log is seen here.
        response = api.post(
            OTLP, content=gzip.compress(body), headers={**PROTOBUF, "content-encoding": "gzip"}
        )
    assert response.status_code == 200, response.text

    stored = observations(api, trace_id)
    assert set(stored) == {deep_span, plain_span}
    assert stored[deep_span]["model"] == "gpt-x"
    assert stored[deep_span]["metadata"]["kept"] == "yes"
    assert stored[plain_span]["metadata"] == {"fine": [1, [2, [3]]]}
    assert any(
        key in record.getMessage() and deep_span in record.getMessage() for record in caplog.records
    )


# --- memory -------------------------------------------------------------------------------


def _json_bomb(items: int) -> bytes:
    """OTLP JSON that gzips to a few KB and would take gigabytes as Python objects."""
    return gzip.compress(b'{"resourceSpans":[' + b"{}," * items + b"{}]}", 9)


@pytest.mark.parametrize("items", [2_000_000, 10_000_000])
def test_an_otlp_json_body_is_parsed_within_a_memory_budget(
    api: httpx.Client, lf_server: LocalLangfuseServer, items: int
) -> None:
    bomb = _json_bomb(items)
    assert len(bomb) < 64 * 1024
    response = api.post(
        OTLP,
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=120,
    )
    assert response.status_code == 413, response.text[:300]
    assert "memory" in response.json()["message"]
    assert httpx.get(lf_server.base_url + "/api/public/health").status_code == 200


def test_an_export_with_too_many_spans_is_refused(api: httpx.Client) -> None:
    trace_id = os.urandom(16).hex()
    spans = {os.urandom(8).hex(): {} for _ in range(MAX_SPANS_PER_REQUEST + 1)}
    response = api.post(OTLP, content=otlp(trace_id, spans), headers=PROTOBUF)
    assert response.status_code == 413
    assert str(MAX_SPANS_PER_REQUEST) in response.json()["message"]
    assert observations(api, trace_id) == {}


def test_a_protobuf_export_of_a_million_empty_spans_is_refused(api: httpx.Client) -> None:
    """About 160 KB of gzip; parsed, it would take gigabytes before its spans could be counted."""
    one = otlp("ab" * 16, {"cd" * 8: {}})
    request = ExportTraceServiceRequest.FromString(one)
    span = request.resource_spans[0].scope_spans[0].spans[0].SerializeToString()
    spans = (b"\x12" + bytes([len(span)]) + span) * 1_000_000
    scope = b"\x12" + _varint(len(spans)) + spans
    body = gzip.compress(b"\x0a" + _varint(len(scope)) + scope, 9)
    assert len(body) < 256 * 1024
    response = api.post(OTLP, content=body, headers={**PROTOBUF, "content-encoding": "gzip"})
    assert response.status_code == 413
    assert str(MAX_SPANS_PER_REQUEST) in response.json()["message"]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def test_a_scores_batch_has_an_item_limit(api: httpx.Client) -> None:
    scores = [{"traceId": "t", "name": "n", "value": 1}] * (MAX_BATCH_SCORES + 1)
    response = api.post("/api/public/scores", json=scores)
    assert response.status_code == 400
    assert str(MAX_BATCH_SCORES) in response.json()["message"]


def test_a_rejected_scores_batch_gets_an_answer_of_bounded_size(api: httpx.Client) -> None:
    scores: list[dict[str, Any]] = [{"name": "x" * 5000, "value": "y" * 5000}] * MAX_BATCH_SCORES
    response = api.post("/api/public/scores", json=scores)
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (0, MAX_BATCH_SCORES)
    assert len(response.content) < 16 * 1024
    assert "more rejected" in body["errors"][-1]["message"]


# --- the ingestion worker -----------------------------------------------------------------


@pytest.fixture
def worker_server(tmp_path: Path) -> Iterator[LocalLangfuseServer]:
    server = _server(tmp_path)
    yield server
    server.stop()


def _pool(server: LocalLangfuseServer) -> IngestPool:
    app = server._app
    assert app is not None
    pool: IngestPool = app.state.ingest_pool
    return pool


def test_a_job_whose_worker_dies_is_not_run_again_in_the_server(
    worker_server: LocalLangfuseServer,
) -> None:
    api = httpx.Client(base_url=worker_server.base_url, auth=AUTH, timeout=60)
    pool = _pool(worker_server)
    big = {os.urandom(8).hex(): {"langfuse.observation.input": "x" * 100} for _ in range(200)}
    warm_up = api.post(OTLP, content=otlp(os.urandom(16).hex(), big), headers=PROTOBUF)
    assert warm_up.status_code == 200
    worker = pool._process
    assert worker is not None
    assert worker.poll() is None

    # Freeze the worker, send an export, and kill the worker once it holds the job.
    os.kill(worker.pid, signal.SIGSTOP)
    trace_id = os.urandom(16).hex()
    answers: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: answers.append(api.post(OTLP, content=otlp(trace_id, big), headers=PROTOBUF))
    )
    sender.start()
    deadline = time.monotonic() + 30
    while not pool._lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool._lock.locked(), "the export never reached the worker"
    os.kill(worker.pid, signal.SIGKILL)
    sender.join(timeout=60)

    assert answers[0].status_code == 503
    assert "worker" in answers[0].json()["message"]
    assert observations(api, trace_id) == {}
    # The next export gets a new worker and is stored.
    again = api.post(OTLP, content=otlp(trace_id, big), headers=PROTOBUF)
    assert again.status_code == 200
    assert len(observations(api, trace_id)) == len(big)
    assert pool._process is not None
    assert pool._process.pid != worker.pid


# --- the SQLite file ----------------------------------------------------------------------


def test_the_sqlite_file_and_its_new_folder_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "data"
    config = ServerConfig(
        db_path=folder / "langfuse.sqlite3", public_key=PUBLIC_KEY, secret_key=SecretStr(SECRET_KEY)
    )
    server = LocalLangfuseServer(config).start()
    try:
        response = httpx.post(
            server.base_url + "/api/public/v2/prompts", json={"name": "p", "prompt": "x"}, auth=AUTH
        )
        assert response.status_code == 201
        modes = {
            path.name: stat.S_IMODE(path.stat().st_mode)
            for path in [tmp_path / "new", folder, *folder.iterdir()]
        }
    finally:
        server.stop()
    assert modes["new"] == 0o700
    assert modes["data"] == 0o700
    assert modes["langfuse.sqlite3"] == 0o600
    assert modes.get("langfuse.sqlite3-wal", 0o600) == 0o600
    assert {m for name, m in modes.items() if name.startswith("langfuse")} == {0o600}
