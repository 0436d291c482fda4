"""Drafts: names, content hash (sync's normalisation), sync-file drafts, the run store's drafts
table (surviving a reopen), and the label history's migration to record who moved a label."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from prompt_playground.drafts import (
    Draft,
    DraftError,
    check_name,
    content_hash,
    from_sync_file,
    parse_texts,
)
from prompt_playground.errors import RunStoreError, SchemaError
from prompt_playground.examples import example_prompt
from prompt_playground.history import LabelHistory
from prompt_playground.models import Variant
from prompt_playground.runstore import RunStore
from tests.support.postgres import Backend

SCHEMA: dict[str, Any] = {"type": "object", "properties": {"label": {"type": "string"}}}
MESSAGES = [
    {"role": "system", "content": "Label the chat."},
    {"type": "placeholder", "name": "history"},
    {"role": "user", "content": "{{chat_json}}"},
]


def draft(name: str = "terse", **changes: Any) -> Draft:
    fields: dict[str, Any] = {
        "name": name,
        "prompt_name": "p",
        "type": "chat",
        "prompt": MESSAGES,
        "config": {"temperature": 0, "response_schema": SCHEMA},
        "base_version": 1,
    }
    return Draft(**{**fields, **changes})


def test_a_draft_variant_is_named_draft_colon_name() -> None:
    variant = Variant.parse("draft:terse")
    assert variant.draft == "terse"
    assert variant.key == "draft:terse"
    assert Variant.parse("production").draft is None
    with pytest.raises(ValueError, match="one of a label, a version or a draft"):
        Variant(label="production", draft="terse")


@pytest.mark.parametrize("bad", ["", " ", "has space", "-dash-first", "x" * 65, "a/b"])
def test_a_draft_name_a_tag_cannot_hold_is_refused(bad: str) -> None:
    with pytest.raises(DraftError, match="cannot name a draft"):
        check_name(bad)


def test_the_content_hash_ignores_what_sync_ignores_and_nothing_else() -> None:
    padded = [
        {**m, "content": f"  {m['content']}\n"} if "content" in m else dict(m) for m in MESSAGES
    ]
    config = {"temperature": 0, "response_schema": SCHEMA}
    assert content_hash(padded, config) == content_hash(MESSAGES, config)
    assert content_hash(MESSAGES, {**config, "temperature": 0.5}) != content_hash(MESSAGES, config)
    changed = [dict(MESSAGES[0], content="Label the chat!"), *MESSAGES[1:]]
    assert content_hash(changed, config) != content_hash(MESSAGES, config)


def test_a_draft_runs_as_its_prompt_without_a_version_or_sdk_client() -> None:
    prompt = draft().as_prompt_version()
    assert prompt.draft == "terse"
    assert prompt.client is None
    assert prompt.display == "draft 'terse'"
    assert prompt.variables == ["chat_json"]


def test_a_sync_file_with_one_version_is_a_draft_named_after_the_file(tmp_path: Path) -> None:
    spec = example_prompt()
    path = tmp_path / "shorter.yaml"
    path.write_text(
        yaml.safe_dump({"name": spec["name"], "type": "chat", **spec["versions"][1]}),
        encoding="utf-8",
    )
    loaded = from_sync_file(path)
    assert (loaded.name, loaded.prompt_name, loaded.type) == ("shorter", spec["name"], "chat")
    assert loaded.prompt == spec["versions"][1]["prompt"]
    assert loaded.base_version is None


def test_a_sync_file_draft_with_a_broken_schema_is_refused_before_any_call(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "p",
                "type": "chat",
                "prompt": MESSAGES,
                "config": {"response_schema": {"type": "object", "properties": {"x": {"type": 1}}}},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(SchemaError, match=r"broken\.yaml: response schema"):
        from_sync_file(path)


def test_editor_texts_that_are_not_json_say_which_part_and_where() -> None:
    with pytest.raises(DraftError, match="Config is not valid JSON"):
        parse_texts("chat", '[{"role": "user", "content": "x"}]', "{", "{}")
    with pytest.raises(SchemaError, match="The new version: a version needs a response schema"):
        parse_texts("text", "hello", "{}", "{}", where="The new version")


def test_drafts_are_kept_in_the_run_store_and_survive_a_reopen(backend: Backend) -> None:
    store = RunStore(backend.target("runs.sqlite3"))
    saved = store.save_draft(draft())
    assert saved.updated_at
    store.save_draft(draft("other"))
    store.save_draft(draft(config={"temperature": 1, "response_schema": SCHEMA}))

    reopened = RunStore(backend.target("runs.sqlite3"))
    got = reopened.get_draft("p", "terse")
    assert got.config["temperature"] == 1, "saving again replaces the draft"
    assert got.prompt == MESSAGES
    assert {d.name for d in reopened.drafts("p")} == {"terse", "other"}
    assert reopened.drafts("nope") == []
    reopened.delete_draft("p", "other")
    assert not reopened.has_draft("p", "other")
    with pytest.raises(RunStoreError, match=r"no draft 'other'\. Drafts: terse"):
        reopened.get_draft("p", "other")


def test_the_label_history_of_an_older_file_gains_who_moved_a_label(tmp_path: Path) -> None:
    path = tmp_path / "label-history.sqlite3"
    with sqlite3.connect(path) as conn:  # the file as the first release wrote it
        conn.execute(
            "CREATE TABLE label_moves (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL,"
            " prompt_name TEXT NOT NULL, label TEXT NOT NULL, from_version INTEGER,"
            " to_version INTEGER NOT NULL, note TEXT)"
        )
        conn.execute(
            "INSERT INTO label_moves (at, prompt_name, label, from_version, to_version) "
            "VALUES ('2026-01-01T00:00:00+00:00', 'p', 'production', 1, 2)"
        )
        conn.execute("PRAGMA user_version = 1")
    history = LabelHistory(path)
    history.record("p", "production", 2, 3, note="better", actor="ana (cli)")
    newest, oldest = history.moves("p")
    assert (newest.to_version, newest.actor, newest.note) == (3, "ana (cli)", "better")
    assert (oldest.to_version, oldest.actor) == (2, None)
