"""Health, auth and the 501 fallback of local-langfuse, through the SDK and raw HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from tests.support.openapi import assert_valid_response
from tests.support.servers import PUBLIC_KEY, SECRET_KEY


def test_auth_check_passes_with_the_configured_keys(langfuse: Langfuse) -> None:
    assert langfuse.auth_check() is True


def test_health_answers_without_auth_and_matches_the_schema(lf_server: LocalLangfuseServer) -> None:
    response = httpx.get(f"{lf_server.base_url}/api/public/health")
    assert response.status_code == 200
    assert_valid_response("GET", "/api/public/health", 200, response.json())
    assert response.json()["status"] == "OK"


def test_projects_match_the_schema(api: httpx.Client) -> None:
    response = api.get("/api/public/projects")
    assert response.status_code == 200
    assert_valid_response("GET", "/api/public/projects", 200, response.json())


@pytest.mark.parametrize(
    "auth",
    [None, ("pk-lf-test", "wrong"), ("pk-other", "sk-lf-test")],
    ids=["missing", "wrong-secret", "wrong-public"],
)
def test_requests_without_valid_keys_get_a_json_401(
    lf_server: LocalLangfuseServer, auth: tuple[str, str] | None
) -> None:
    response = httpx.get(f"{lf_server.base_url}/api/public/projects", auth=auth)
    assert response.status_code == 401
    assert response.json()["message"]
    assert "sk-lf-test" not in response.text


def test_sdk_raises_unauthorized_for_bad_keys(lf_server: LocalLangfuseServer) -> None:
    # In a child process: the SDK keeps one client per public key in this process.
    code = (
        "import sys\n"
        "from langfuse import Langfuse\n"
        "from langfuse.api.commons.errors.unauthorized_error import UnauthorizedError\n"
        "lf = Langfuse(public_key='pk-lf-test', secret_key='nope', base_url=sys.argv[1])\n"
        "try:\n    lf.auth_check()\nexcept UnauthorizedError as exc:\n"
        "    print('unauthorized', exc.status_code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, lf_server.base_url], capture_output=True, text=True, timeout=60
    )
    assert "unauthorized 401" in done.stdout, done.stderr


def test_unknown_paths_answer_501_naming_what_is_missing(api: httpx.Client) -> None:
    response = api.get("/api/public/annotation-queues")
    assert response.status_code == 501
    assert "/api/public/annotation-queues" in response.json()["message"]


def test_double_slash_paths_from_trailing_slash_base_urls_are_served(
    lf_server: LocalLangfuseServer,
) -> None:
    response = httpx.get(
        f"{lf_server.base_url}//api/public/projects", auth=(PUBLIC_KEY, SECRET_KEY)
    )
    assert response.status_code == 200


def test_bodies_over_the_limit_get_413(api: httpx.Client) -> None:
    response = api.post(
        "/api/public/scores",
        content=b"x" * (33 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_an_embedded_server_leaves_no_spans_in_the_host_process_tracer(tmp_path: Path) -> None:
    # Embedded beside a Langfuse client (the app, the CLI), the process has a global tracer
    # provider; FastAPI would trace every request to local-langfuse into it.
    code = (
        "import sys, httpx\n"
        "from pathlib import Path\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import SimpleSpanProcessor\n"
        "from opentelemetry.sdk.trace.export.in_memory_span_exporter import "
        "InMemorySpanExporter\n"
        "from tests.support.servers import start_local_langfuse, PUBLIC_KEY, SECRET_KEY\n"
        "exporter = InMemorySpanExporter()\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(exporter))\n"
        "trace.set_tracer_provider(provider)\n"
        "with trace.get_tracer('probe').start_as_current_span('probe'):\n"
        "    pass\n"
        "server = start_local_langfuse(Path(sys.argv[1]))\n"
        "try:\n"
        "    auth = (PUBLIC_KEY, SECRET_KEY)\n"
        "    httpx.get(server.base_url + '/api/public/projects', auth=auth).raise_for_status()\n"
        "    httpx.get(server.base_url + '/api/public/health').raise_for_status()\n"
        "finally:\n"
        "    server.stop()\n"
        "print(sorted(span.name for span in exporter.get_finished_spans()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "spans.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The probe shows the provider records spans; the server's requests add none.
    assert done.stdout.strip() == "['probe']", done.stderr
