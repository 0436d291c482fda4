"""local-langfuse under abuse: restarts, ``kill -9`` mid-write, malformed bodies, remote binds.

These tests use their own servers (a small body limit, a subprocess to kill), and raw HTTP
rather than the SDK, which keeps one client per public key per process.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer, ServerConfig
from local_langfuse.routes import ROUTERS
from local_langfuse.routes.media import media_id_for, url_token
from tests.support.servers import (
    PUBLIC_KEY,
    SECRET_KEY,
    cli_command,
    free_port,
    start_local_langfuse,
)

AUTH = (PUBLIC_KEY, SECRET_KEY)
SMALL_LIMIT = 64 * 1024
JSON_HEADERS = {"content-type": "application/json"}
OTLP_HEADERS = {"content-type": "application/x-protobuf"}


# --- malformed bodies on every endpoint that takes one -----------------------------------

ROBUST_MEDIA = b"robust media"
ROBUST_MEDIA_SHA256 = base64.b64encode(hashlib.sha256(ROBUST_MEDIA).digest()).decode()
ROBUST_MEDIA_ID = media_id_for(ROBUST_MEDIA_SHA256)

# Every POST/PUT/PATCH route of the app, with a concrete path that reaches its body parsing.
# ``test_every_body_route_is_covered`` fails when a route is added without an entry here.
BODY_ENDPOINTS: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/api/public/v2/prompts"): ("/api/public/v2/prompts", "json"),
    ("PATCH", "/api/public/v2/prompts/{rest:path}"): (
        "/api/public/v2/prompts/robust%2Fprompt/versions/1",
        "json",
    ),
    ("POST", "/api/public/v2/datasets"): ("/api/public/v2/datasets", "json"),
    ("POST", "/api/public/dataset-items"): ("/api/public/dataset-items", "json"),
    ("POST", "/api/public/scores"): ("/api/public/scores", "json"),
    ("POST", "/api/public/otel/v1/traces"): ("/api/public/otel/v1/traces", "otlp"),
    ("DELETE", "/api/public/traces"): ("/api/public/traces", "json"),
    ("POST", "/api/public/ingestion"): ("/api/public/ingestion", "json"),
    ("POST", "/api/public/dataset-run-items"): ("/api/public/dataset-run-items", "json"),
    ("POST", "/api/public/media"): ("/api/public/media", "json"),
    ("PATCH", "/api/public/media/{media_id}"): ("/api/public/media/robust", "json"),
    # A registered media (see small_server): any body but its content is a 400.
    ("PUT", "/media-upload/{media_id}"): (
        f"/media-upload/{ROBUST_MEDIA_ID}?token="
        + url_token(ServerConfig(Path(), secret_key=SecretStr(SECRET_KEY)), "put", ROBUST_MEDIA_ID),
        "json",
    ),
}

JSON_CASES: dict[str, bytes] = {
    "empty": b"",
    "not-json": b"{not json",
    "truncated": b'{"name": "x", "prompt": ',
    "invalid-utf8": b'{"name": "\xff\xfe"}',
    "string": b'"a string"',
    "number": b"42",
    "null": b"null",
    "nested-too-deep": b"[" * 30_000 + b"]" * 30_000,
    "huge": b'{"name": "' + b"x" * (SMALL_LIMIT + 1) + b'"}',
}
OTLP_CASES: dict[str, bytes] = {
    "empty-gzip": gzip.compress(b""),
    "not-protobuf": b"\xff\xff\xff\xff not a protobuf message",
    "huge": b"\x0a" * (SMALL_LIMIT + 1),
}


def _app_routes() -> set[tuple[str, str]]:
    """(method, path template) of every route in the app's routers."""
    return {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLangfuseServer]:
    """A server with a 64 KiB body limit, so 'too large' costs little to send."""
    path = tmp_path_factory.mktemp("robust") / "small.sqlite3"
    server = start_local_langfuse(path, max_body_bytes=SMALL_LIMIT)
    with httpx.Client(base_url=server.base_url, auth=AUTH) as client:
        client.post(
            "/api/public/v2/prompts",
            json={"name": "robust/prompt", "type": "text", "prompt": "hi", "labels": []},
        )
        client.post("/api/public/v2/datasets", json={"name": "robust"})
        media = {
            "contentType": "image/png",
            "contentLength": len(ROBUST_MEDIA),
            "sha256Hash": ROBUST_MEDIA_SHA256,
            "field": "input",
        }
        assert client.post("/api/public/media", json=media).json()["mediaId"] == ROBUST_MEDIA_ID
    yield server
    server.stop()


@pytest.fixture(scope="module")
def body_routes() -> set[tuple[str, str]]:
    return _app_routes()


def test_every_body_route_is_covered(body_routes: set[tuple[str, str]]) -> None:
    missing = {
        route
        for route in body_routes
        if route[0] in {"POST", "PUT", "PATCH"} and route not in BODY_ENDPOINTS
    }
    assert not missing, f"add these routes to BODY_ENDPOINTS: {sorted(missing)}"


def _cases() -> Iterator[Any]:
    for key, (path, kind) in BODY_ENDPOINTS.items():
        cases = JSON_CASES if kind == "json" else OTLP_CASES
        for case, body in cases.items():
            yield pytest.param(key, path, kind, body, id=f"{key[0]} {path} {case}")
        if kind == "json":
            yield pytest.param(key, path, kind, None, id=f"{key[0]} {path} huge-chunked")


def _chunks(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 8192
        sent += 8192


@pytest.mark.parametrize(("key", "path", "kind", "body"), list(_cases()))
def test_malformed_bodies_get_a_4xx_with_a_json_message(
    small_server: LocalLangfuseServer,
    body_routes: set[tuple[str, str]],
    key: tuple[str, str],
    path: str,
    kind: str,
    body: bytes | None,
) -> None:
    # A route the SDK needs that disappeared is a failure, not a skip.
    assert key in body_routes, f"{key[0]} {key[1]} is missing from local-langfuse"
    headers = JSON_HEADERS if kind == "json" else OTLP_HEADERS
    content: bytes | Iterator[bytes] = _chunks(SMALL_LIMIT * 2) if body is None else body
    with httpx.Client(base_url=small_server.base_url, auth=AUTH, timeout=30) as client:
        response = client.request(key[0], path, content=content, headers=headers)

    expected = {413} if body is None or len(body) > SMALL_LIMIT else {400}
    assert response.status_code in expected, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["message"]
    assert isinstance(message, str)
    assert message
    assert "Traceback" not in message


def test_a_gzip_bomb_on_otlp_is_refused(
    small_server: LocalLangfuseServer, body_routes: set[tuple[str, str]]
) -> None:
    assert ("POST", "/api/public/otel/v1/traces") in body_routes, "OTLP ingestion is missing"
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    assert len(bomb) < SMALL_LIMIT
    response = httpx.post(
        f"{small_server.base_url}/api/public/otel/v1/traces",
        content=bomb,
        headers={**OTLP_HEADERS, "content-encoding": "gzip"},
        auth=AUTH,
        timeout=30,
    )
    assert response.status_code in {400, 413}, response.text[:500]
    assert response.json()["message"]


# --- durability ----------------------------------------------------------------------------


def test_data_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite3"
    first = start_local_langfuse(path)
    try:
        with httpx.Client(base_url=first.base_url, auth=AUTH) as client:
            assert client.post("/api/public/v2/datasets", json={"name": "kept"}).status_code == 200
            item = {"datasetName": "kept", "id": "item-1", "input": {"q": "é"}}
            assert client.post("/api/public/dataset-items", json=item).status_code == 200
    finally:
        first.stop()

    second = start_local_langfuse(path)
    try:
        with httpx.Client(base_url=second.base_url, auth=AUTH) as client:
            assert client.get("/api/public/v2/datasets/kept").json()["name"] == "kept"
            fetched = client.get("/api/public/dataset-items/item-1").json()
            assert fetched["input"] == {"q": "é"}
    finally:
        second.stop()


def _start_cli(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY}
    process = subprocess.Popen(
        [
            *cli_command(),
            "local-langfuse",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--db",
            str(db),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"local-langfuse exited with {process.returncode}: {stderr}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/public/health").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("local-langfuse did not answer /api/public/health within 60 s")


def _write_items(base_url: str, acked: list[str], stop: threading.Event, prefix: str) -> None:
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=10) as client:
        index = 0
        while not stop.is_set():
            item_id = f"{prefix}-{index}"
            body = {"datasetName": "crash", "id": item_id, "input": {"n": index, "pad": "x" * 500}}
            try:
                response = client.post("/api/public/dataset-items", json=body)
            except httpx.TransportError:
                return
            if response.is_success:
                acked.append(item_id)
            index += 1


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = _start_cli(db, port)
    acked: list[str] = []
    stop = threading.Event()
    writers: list[threading.Thread] = []
    try:
        response = httpx.post(
            f"{base_url}/api/public/v2/datasets", json={"name": "crash"}, auth=AUTH
        )
        assert response.status_code == 200
        writers = [
            threading.Thread(target=_write_items, args=(base_url, acked, stop, f"w{n}"))
            for n in range(2)
        ]
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
        for writer in writers:
            writer.join(timeout=30)
    assert len(acked) >= 150, "the writers did not get going before the kill"

    process = _start_cli(db, port)
    try:
        listing = httpx.get(
            f"{base_url}/api/public/dataset-items",
            params={"datasetName": "crash", "limit": 100_000},
            auth=AUTH,
        ).json()
    finally:
        process.terminate()
        process.wait(timeout=30)

    stored = {item["id"] for item in listing["data"]}
    lost = [item_id for item_id in acked if item_id not in stored]
    assert not lost, f"{len(lost)} acknowledged items are gone, e.g. {lost[:3]}"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# --- the command line --------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10"])
def test_cli_refuses_a_non_loopback_host_without_allow_remote(tmp_path: Path, host: str) -> None:
    done = subprocess.run(
        [
            *cli_command(),
            "local-langfuse",
            "--host",
            host,
            "--port",
            "0",
            "--db",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--allow-remote" in done.stderr
    assert not (tmp_path / "x").exists()


def test_server_config_keeps_the_secret_out_of_its_repr(tmp_path: Path) -> None:
    config = ServerConfig(db_path=tmp_path / "x", secret_key=SecretStr("sk-lf-very-secret"))
    assert "sk-lf-very-secret" not in repr(config)
