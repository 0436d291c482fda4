"""LangfusePromptStore over the unmodified langfuse SDK against local-langfuse (real HTTP)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langfuse import Langfuse

from local_langfuse import LocalLangfuseServer
from prompt_playground.errors import PromotionError, PromptNotFoundError, PromptStoreError
from prompt_playground.models import Variant
from prompt_playground.prompts import LangfusePromptStore, sync_specs

ROOT = Path(__file__).resolve().parents[2]

SCHEMA_V1 = {
    "type": "object",
    "properties": {"sentiment": {"type": "string", "enum": ["positive", "negative"]}},
    "required": ["sentiment"],
}
SCHEMA_V2 = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "mixed"]},
        "language": {"type": "string"},
    },
    "required": ["sentiment"],
}


@pytest.fixture
def store(langfuse: Langfuse, lf_server: LocalLangfuseServer) -> LangfusePromptStore:
    return LangfusePromptStore(langfuse, base_url=lf_server.base_url)


def messages(system: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "Chat:\n{{chat_json}}"},
    ]


@pytest.fixture
def two_versions(store: LangfusePromptStore, unique: str) -> str:
    """v1 production (schema v1), v2 staging (new system message, temperature, schema v2)."""
    name = f"store-{unique}"
    store.create_version(
        name,
        type="chat",
        prompt=messages("Extract feedback."),
        config={"temperature": 0, "response_schema": SCHEMA_V1},
        labels=["production"],
        tags=["example"],
        commit_message="first",
    )
    store.create_version(
        name,
        type="chat",
        prompt=messages("Extract feedback and the language."),
        config={"temperature": 0.2, "max_tokens": 300, "response_schema": SCHEMA_V2},
        labels=["staging"],
        commit_message="add language",
    )
    return name


def test_list_prompts_shows_versions_labels_and_tags(
    store: LangfusePromptStore, two_versions: str
) -> None:
    by_name = {s.name: s for s in store.list_prompts()}
    summary = by_name[two_versions]
    assert summary.type == "chat"
    assert summary.versions == [1, 2]
    assert summary.labels == ["latest", "production", "staging"]
    assert summary.tags == ["example"]
    assert store.exists(two_versions)
    assert not store.exists(two_versions + "-missing")


def test_get_by_label_by_version_and_by_default(
    store: LangfusePromptStore, two_versions: str
) -> None:
    default = store.get(two_versions)
    assert (default.version, default.type) == (1, "chat")
    assert "production" in default.labels
    assert default.config["response_schema"] == SCHEMA_V1
    assert default.commit_message == "first"
    assert default.variables == ["chat_json"]
    assert default.prompt == messages("Extract feedback.")  # no SDK 'type' keys leak through

    staging = store.get(two_versions, Variant(label="staging"))
    assert staging.version == 2
    assert staging.config["max_tokens"] == 300
    assert store.get(two_versions, Variant(version=1)).config["temperature"] == 0
    assert store.get(two_versions, Variant(label="latest")).version == 2
    assert store.get(two_versions, Variant.parse("v2")).version == 2


def test_a_text_prompt_reads_back_as_text(store: LangfusePromptStore, unique: str) -> None:
    name = f"text-{unique}"
    store.create_version(name, type="text", prompt="Summarise {{body}}", labels=["production"])
    got = store.get(name)
    assert (got.type, got.prompt, got.variables) == ("text", "Summarise {{body}}", ["body"])


def test_a_missing_prompt_is_named(store: LangfusePromptStore, unique: str) -> None:
    with pytest.raises(PromptNotFoundError) as caught:
        store.get(f"nothing-{unique}")
    assert f"no prompt named 'nothing-{unique}'" in caught.value.message


def test_a_missing_label_lists_the_labels_that_exist(
    store: LangfusePromptStore, two_versions: str
) -> None:
    with pytest.raises(PromptNotFoundError) as caught:
        store.get(two_versions, Variant(label="canary"))
    message = caught.value.message
    assert "no label 'canary'" in message
    assert "Labels: latest, production, staging" in message
    assert "Versions: 1, 2" in message


def test_a_missing_version_lists_the_versions_that_exist(
    store: LangfusePromptStore, two_versions: str
) -> None:
    with pytest.raises(PromptNotFoundError, match=r"no version 9\. .*Versions: 1, 2"):
        store.get(two_versions, Variant(version=9))


def test_versions_are_newest_first_with_labels_and_commit_messages(
    store: LangfusePromptStore, two_versions: str
) -> None:
    versions = store.versions(two_versions)
    assert [v.version for v in versions] == [2, 1]
    assert sorted(versions[0].labels) == ["latest", "staging"]
    assert versions[1].labels == ["production"]
    assert [v.commit_message for v in versions] == ["add language", "first"]


def test_versions_of_a_missing_prompt_is_not_found(store: LangfusePromptStore, unique: str) -> None:
    with pytest.raises(PromptNotFoundError, match="no prompt named"):
        store.versions(f"nothing-{unique}")


def test_diff_shows_message_config_and_schema_lines(
    store: LangfusePromptStore, two_versions: str
) -> None:
    diff = store.diff(two_versions, Variant(label="production"), Variant(label="staging"))
    assert (diff.old_version, diff.new_version) == (1, 2)
    assert not diff.unchanged
    assert diff.messages[:2] == ["--- messages v1", "+++ messages v2"]
    assert "-Extract feedback." in diff.messages
    assert "+Extract feedback and the language." in diff.messages
    assert not any("Chat:" in line and line[:1] in "+-" for line in diff.messages)
    assert '-  "temperature": 0' in diff.config
    assert '+  "temperature": 0.2' in diff.config
    assert '+  "max_tokens": 300,' in diff.config
    assert not any("response_schema" in line for line in diff.config)
    assert any(line.startswith("+") and '"language"' in line for line in diff.schema)
    assert any(line.startswith("+") and '"mixed"' in line for line in diff.schema)


def test_diff_of_a_version_with_itself_is_unchanged(
    store: LangfusePromptStore, two_versions: str
) -> None:
    diff = store.diff(two_versions, Variant(version=1), Variant(label="production"))
    assert diff.unchanged
    assert (diff.messages, diff.config, diff.schema) == ([], [], [])


def test_promote_moves_the_label_and_reports_the_previous_version(
    store: LangfusePromptStore, two_versions: str
) -> None:
    moved = store.promote(two_versions, 2, "production")
    assert (moved.previous_version, moved.version, moved.changed) == (1, 2, True)
    assert store.get(two_versions).version == 2
    assert "production" not in store.get(two_versions, Variant(version=1)).labels
    # the other labels stay where they were
    assert store.get(two_versions, Variant(label="staging")).version == 2


def test_promote_to_a_new_label_has_no_previous_version(
    store: LangfusePromptStore, two_versions: str
) -> None:
    moved = store.promote(two_versions, 1, " canary ")
    assert (moved.label, moved.previous_version, moved.changed) == ("canary", None, True)
    assert store.get(two_versions, Variant(label="canary")).version == 1


def test_promote_to_the_same_version_changes_nothing(
    store: LangfusePromptStore, two_versions: str
) -> None:
    before = [(v.version, sorted(v.labels)) for v in store.versions(two_versions)]
    moved = store.promote(two_versions, 1, "production")
    assert (moved.previous_version, moved.changed) == (1, False)
    assert [(v.version, sorted(v.labels)) for v in store.versions(two_versions)] == before


@pytest.mark.parametrize("label", ["latest", "  "])
def test_promote_refuses_latest_and_blank_labels(
    store: LangfusePromptStore, two_versions: str, label: str
) -> None:
    with pytest.raises(PromotionError):
        store.promote(two_versions, 1, label)
    assert store.get(two_versions, Variant(label="latest")).version == 2


def test_promote_to_a_missing_version_is_not_found(
    store: LangfusePromptStore, two_versions: str
) -> None:
    with pytest.raises(PromptNotFoundError, match="Versions: 1, 2"):
        store.promote(two_versions, 7, "production")
    assert store.get(two_versions).version == 1


def test_create_version_refuses_latest(store: LangfusePromptStore, unique: str) -> None:
    with pytest.raises(PromotionError, match="latest"):
        store.create_version(f"x-{unique}", type="text", prompt="hi", labels=["latest"])
    assert not store.exists(f"x-{unique}")


def spec(name: str, *, temperature: float = 0, system: str = "Extract.") -> dict[str, Any]:
    return {
        "name": name,
        "type": "chat",
        "labels": ["production"],
        "tags": ["sync"],
        "commit_message": "from sync",
        "prompt": messages(system),
        "config": {"temperature": temperature, "response_schema": SCHEMA_V1},
    }


def test_sync_creates_once_then_nothing_then_a_version_per_change(
    store: LangfusePromptStore, unique: str
) -> None:
    name = f"sync-{unique}"
    first = store.sync(spec(name))
    assert [(o.status, o.version) for o in first] == [("created", 1)]
    assert [(o.status, o.version) for o in store.sync(spec(name))] == [("unchanged", 1)]
    # whitespace around message text is not a change
    assert store.sync(spec(name, system="  Extract.\n"))[0].status == "unchanged"
    assert len(store.versions(name)) == 1

    changed = store.sync(spec(name, temperature=0.7))
    assert [(o.status, o.version) for o in changed] == [("created", 2)]
    latest = store.get(name, Variant(label="latest"))
    assert latest.config["temperature"] == 0.7
    assert latest.commit_message == "from sync"
    assert store.sync(spec(name, temperature=0.7))[0].status == "unchanged"
    assert [v.version for v in store.versions(name)] == [2, 1]


def test_sync_of_versions_creates_each_once_in_order(
    store: LangfusePromptStore, unique: str
) -> None:
    name = f"sync-versions-{unique}"
    document = {
        "prompts": [
            {
                "name": name,
                "type": "chat",
                "versions": [
                    {"prompt": messages("One."), "labels": ["production"], "commit_message": "1"},
                    {"prompt": messages("Two."), "labels": ["staging"], "config": {"seed": 2}},
                ],
            }
        ]
    }
    (checked,) = sync_specs(document, source="prompts.yaml")
    assert [(o.status, o.version) for o in store.sync(checked)] == [
        ("created", 1),
        ("created", 2),
    ]
    assert [(o.status, o.version) for o in store.sync(checked)] == [
        ("unchanged", 1),
        ("unchanged", 2),
    ]
    assert store.get(name).version == 1
    assert store.get(name, Variant(label="staging")).config == {"seed": 2}
    assert [v.commit_message for v in store.versions(name)] == [None, "1"]


def test_sync_puts_a_missing_label_back_on_the_matching_version(
    store: LangfusePromptStore, unique: str
) -> None:
    name = f"sync-label-{unique}"
    store.sync(spec(name))
    store.create_version(name, type="chat", prompt=messages("Other."), labels=["production"])
    # v2 took 'production'; the file still says v1's content is production
    outcome = store.sync({**spec(name), "versions": [spec(name)]})
    assert [(o.status, o.version) for o in outcome] == [("unchanged", 1)]
    assert store.get(name).version == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"prompt": "no name"}, "needs a 'name'"),
        ({"name": "x", "versions": []}, "'versions' must be a list"),
        ({"name": "x", "versions": [{"labels": []}]}, "every version needs 'prompt'"),
        ({"name": "x", "prompt": "hi", "labels": ["latest"]}, "remove it from labels"),
    ],
)
def test_sync_specs_name_the_file_and_the_problem(document: Any, message: str) -> None:
    with pytest.raises(PromptStoreError) as caught:
        sync_specs(document, source="prompts.yaml")
    assert message in caught.value.message
    assert "prompts.yaml, prompt #1" in caught.value.message


OUTAGE_SCRIPT = """
import json, sys
from langfuse import Langfuse
from prompt_playground.errors import PlaygroundError
from prompt_playground.models import Variant
from prompt_playground.prompts import LangfusePromptStore

base_url = sys.argv[1]
client = Langfuse(public_key="pk-lf-outage", secret_key="sk-lf-outage-secret", base_url=base_url,
                  tracing_enabled=False)
store = LangfusePromptStore(client, base_url=base_url)
calls = {
    "list": lambda: store.list_prompts(),
    "get": lambda: store.get("anything", Variant(label="production")),
    "versions": lambda: store.versions("anything"),
    "promote": lambda: store.promote("anything", 1, "production"),
    "sync": lambda: store.sync({"name": "anything", "prompt": "hi"}),
}
out = {}
for what, call in calls.items():
    try:
        call()
        out[what] = ["no error", ""]
    except PlaygroundError as exc:
        out[what] = [type(exc).__name__, exc.message]
print(json.dumps(out))
"""


def test_an_unreachable_langfuse_is_an_actionable_error(tmp_path: Path) -> None:
    # Another key and URL need another process: the SDK keeps one client per public key.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = subprocess.run(
        [sys.executable, "-c", OUTAGE_SCRIPT, closed],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    outcomes = json.loads(proc.stdout)
    for what, (kind, message) in outcomes.items():
        assert kind == "PromptStoreError", (what, kind, message)
        assert closed in message, message
        assert "unreachable" in message
        assert "LANGFUSE_BASE_URL" in message
        assert "sk-lf-outage-secret" not in message
    assert "sk-lf-outage-secret" not in proc.stderr
    assert "Traceback" not in proc.stderr
