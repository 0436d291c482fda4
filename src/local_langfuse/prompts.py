"""Prompt management with Langfuse's rules: versions, labels (``latest`` is the server's), tags.

Request bodies are validated here into plain values; the store keeps them in SQLite and renders
the ``Prompt`` JSON inside SQLite (``json_object``), so a read is one indexed query and no Python
JSON work.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from local_langfuse.db import Database
from local_langfuse.errors import BadRequestError, NotFoundError
from local_langfuse.http import json_type, now_iso

PromptType = Literal["text", "chat"]

LATEST = "latest"
PRODUCTION = "production"
NAME_MAX_LENGTH = 255
LABEL_MAX_LENGTH = 36
COMMIT_MESSAGE_MAX_LENGTH = 500
TAG_MAX_LENGTH = 255
RESERVED_NAMES = frozenset({"new"})
_LABEL_PATTERN = re.compile(r"[a-z0-9_\-.]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

# The ``Prompt`` response, built by SQLite from a row ``p`` of prompts and ``n`` of prompt_names.
# The first parameter is the project id.
_PROMPT_JSON = """json_object(
    'id', p.id,
    'createdAt', p.created_at,
    'updatedAt', p.updated_at,
    'projectId', ?,
    'createdBy', p.created_by,
    'type', p.type,
    'name', p.name,
    'version', p.version,
    'prompt', json(p.prompt),
    'config', json(p.config),
    'labels', (
        SELECT json_group_array(label) FROM (
            SELECT label FROM prompt_labels l
            WHERE l.name = p.name AND l.version = p.version ORDER BY label
        )
    ),
    'tags', json(n.tags),
    'commitMessage', p.commit_message,
    'resolutionGraph', NULL
)"""

_BY_LABEL = f"""
SELECT {_PROMPT_JSON}
FROM prompt_labels pl
JOIN prompts p ON p.name = pl.name AND p.version = pl.version
JOIN prompt_names n ON n.name = p.name
WHERE pl.name = ? AND pl.label = ?
"""

_BY_VERSION = f"""
SELECT {_PROMPT_JSON}
FROM prompts p
JOIN prompt_names n ON n.name = p.name
WHERE p.name = ? AND p.version = ?
"""


@dataclass(frozen=True)
class NewPromptVersion:
    """A validated ``POST /api/public/v2/prompts`` body."""

    name: str
    type: PromptType
    prompt: str | list[dict[str, str]]
    config: Any
    labels: list[str]
    tags: list[str] | None  # None: keep the tags the prompt already has
    commit_message: str | None


@dataclass(frozen=True)
class PromptListFilter:
    """The filters of ``GET /api/public/v2/prompts``; timestamps in the stored format."""

    name: str | None = None
    label: str | None = None
    tag: str | None = None
    from_updated_at: str | None = None
    to_updated_at: str | None = None


# --- validation -----------------------------------------------------------------------------


def check_name(name: Any, field: str = "name") -> str:
    """A prompt name as Langfuse accepts it (folders are ``/``-separated), or a 400."""
    if not isinstance(name, str):
        raise BadRequestError(f"Field '{field}' must be a string, got {json_type(name)}.")
    if not name.strip():
        raise BadRequestError(f"Field '{field}' must not be empty.")
    if len(name) > NAME_MAX_LENGTH:
        raise BadRequestError(
            f"Field '{field}' is {len(name)} characters long; the maximum is {NAME_MAX_LENGTH}."
        )
    if "|" in name:
        raise BadRequestError(f"Prompt name cannot contain '|' character: {name!r}.")
    if _CONTROL_CHARS.search(name):
        raise BadRequestError(f"Prompt name cannot contain control characters: {name!r}.")
    if name.startswith("/") or name.endswith("/"):
        raise BadRequestError(f"Prompt name cannot start or end with '/': {name!r}.")
    if "//" in name:
        raise BadRequestError(f"Prompt name cannot contain '//' (an empty folder name): {name!r}.")
    if name in RESERVED_NAMES:
        raise BadRequestError(f"Prompt name {name!r} is reserved; choose another name.")
    return name


def check_label(label: Any, field: str) -> str:
    if not isinstance(label, str):
        raise BadRequestError(f"Field '{field}' must be a string, got {json_type(label)}.")
    if not label:
        raise BadRequestError(f"Field '{field}' must not be empty.")
    if len(label) > LABEL_MAX_LENGTH:
        raise BadRequestError(
            f"Label {label!r} in '{field}' is longer than {LABEL_MAX_LENGTH} characters."
        )
    if not _LABEL_PATTERN.fullmatch(label):
        raise BadRequestError(
            f"Label {label!r} in '{field}' is invalid: labels must be lowercase alphanumeric "
            "with optional underscores, hyphens, or periods."
        )
    return label


def check_labels(value: Any, field: str) -> list[str]:
    """A list of assignable labels (deduplicated, order kept); ``latest`` is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequestError(f"Field '{field}' must be a list of strings, got {json_type(value)}.")
    labels: list[str] = []
    for index, item in enumerate(value):
        label = check_label(item, f"{field}[{index}]")
        if label == LATEST:
            raise BadRequestError(
                f"The label '{LATEST}' is reserved: the server always puts it on the newest "
                f"version. Remove it from '{field}'."
            )
        if label not in labels:
            labels.append(label)
    return labels


def _check_tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise BadRequestError(f"Field 'tags' must be a list of strings, got {json_type(value)}.")
    tags: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise BadRequestError(f"Field 'tags[{index}]' must be a string, got {json_type(item)}.")
        if not item.strip():
            raise BadRequestError(f"Field 'tags[{index}]' must not be empty.")
        if len(item) > TAG_MAX_LENGTH:
            raise BadRequestError(
                f"Field 'tags[{index}]' is longer than {TAG_MAX_LENGTH} characters."
            )
        if item not in tags:
            tags.append(item)
    return tags


def _check_message(item: Any, field: str) -> dict[str, str]:
    if not isinstance(item, dict):
        raise BadRequestError(
            f'Field \'{field}\' must be a message object ({{"role", "content"}}) or a '
            f'placeholder ({{"type": "placeholder", "name"}}), got {json_type(item)}.'
        )
    kind = item.get("type")
    if kind == "placeholder" or (kind is None and "role" not in item and "name" in item):
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequestError(
                f"Field '{field}.name' must be a non-empty string naming the placeholder."
            )
        return {"type": "placeholder", "name": name}
    if kind not in (None, "chatmessage"):
        raise BadRequestError(
            f"Field '{field}.type' must be 'chatmessage', 'placeholder' or absent, got "
            f'{kind!r}. Send chat messages as {{"role", "content"}}.'
        )
    role = item.get("role")
    content = item.get("content")
    if not isinstance(role, str) or not role:
        raise BadRequestError(
            f"Field '{field}.role' must be a non-empty string, got {json_type(role)}."
        )
    if not isinstance(content, str):
        raise BadRequestError(
            f"Field '{field}.content' must be a string, got {json_type(content)}."
        )
    message = {"role": role, "content": content}
    if kind == "chatmessage":
        message["type"] = kind
    return message


def _check_unicode(body: Any) -> None:
    """JSON may escape lone surrogates (``"\\ud800"``); they are not text SQLite can store."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise BadRequestError(
            "Request body contains an unpaired UTF-16 surrogate escape (e.g. \\ud800), "
            "which is not valid Unicode text."
        ) from exc


def parse_create_request(body: Any) -> NewPromptVersion:
    """Validate a create-prompt body; every problem is a 400 naming the field."""
    if not isinstance(body, dict):
        raise BadRequestError(f"Request body must be a JSON object, got {json_type(body)}.")
    _check_unicode(body)
    if "name" not in body:
        raise BadRequestError("Field 'name' is required.")
    name = check_name(body["name"])
    raw_type = body.get("type")
    kind: PromptType
    if raw_type is None or raw_type == "text":
        kind = "text"
    elif raw_type == "chat":
        kind = "chat"
    else:
        raise BadRequestError(f"Field 'type' must be 'text' or 'chat', got {raw_type!r}.")
    if "prompt" not in body:
        raise BadRequestError("Field 'prompt' is required.")
    raw_prompt = body["prompt"]
    prompt: str | list[dict[str, str]]
    if kind == "text":
        if not isinstance(raw_prompt, str):
            hint = ' (a list of messages needs "type": "chat")'
            raise BadRequestError(
                "Field 'prompt' must be a string for a text prompt, got "
                f"{json_type(raw_prompt)}{hint if isinstance(raw_prompt, list) else ''}."
            )
        prompt = raw_prompt
    else:
        if not isinstance(raw_prompt, list):
            raise BadRequestError(
                "Field 'prompt' must be a list of messages for a chat prompt, got "
                f"{json_type(raw_prompt)}."
            )
        prompt = [_check_message(item, f"prompt[{i}]") for i, item in enumerate(raw_prompt)]
    config = body.get("config")
    commit_message = body.get("commitMessage")
    if commit_message is not None:
        if not isinstance(commit_message, str):
            raise BadRequestError(
                f"Field 'commitMessage' must be a string, got {json_type(commit_message)}."
            )
        if len(commit_message) > COMMIT_MESSAGE_MAX_LENGTH:
            raise BadRequestError(
                f"Field 'commitMessage' is longer than {COMMIT_MESSAGE_MAX_LENGTH} characters."
            )
    return NewPromptVersion(
        name=name,
        type=kind,
        prompt=prompt,
        config={} if config is None else config,
        labels=check_labels(body.get("labels"), "labels"),
        tags=_check_tags(body.get("tags")),
        commit_message=commit_message,
    )


def parse_new_labels(body: Any) -> list[str]:
    """Validate a ``{"newLabels": [...]}`` body."""
    if not isinstance(body, dict):
        raise BadRequestError(f"Request body must be a JSON object, got {json_type(body)}.")
    _check_unicode(body)
    if "newLabels" not in body:
        raise BadRequestError("Field 'newLabels' is required (a list of labels).")
    if body["newLabels"] is None:
        raise BadRequestError("Field 'newLabels' must be a list of strings, got null.")
    return check_labels(body["newLabels"], "newLabels")


def _json_text(value: Any, field: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise BadRequestError(f"Field '{field}' contains a value JSON cannot represent.") from exc


# --- storage --------------------------------------------------------------------------------


class PromptStore:
    """Prompts of one project in a :class:`Database`. Reads use the calling thread's connection."""

    def __init__(self, db: Database, project_id: str) -> None:
        self.db = db
        self.project_id = project_id

    # reads

    def get_json(self, name: str, *, label: str | None = None, version: int | None = None) -> bytes:
        """The ``Prompt`` JSON by label or version (neither: ``production``), or a 404."""
        conn = self.db.conn
        return self._get_json(conn, name, label=label, version=version)

    def _get_json(
        self,
        conn: sqlite3.Connection,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
    ) -> bytes:
        if version is not None:
            row = conn.execute(_BY_VERSION, (self.project_id, name, version)).fetchone()
        else:
            row = conn.execute(
                _BY_LABEL, (self.project_id, name, PRODUCTION if label is None else label)
            ).fetchone()
        if row is None:
            raise self._not_found(conn, name, label=label, version=version)
        return str(row[0]).encode()

    def _not_found(
        self,
        conn: sqlite3.Connection,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
    ) -> NotFoundError:
        versions = [
            r[0]
            for r in conn.execute(
                "SELECT version FROM prompts WHERE name = ? ORDER BY version", (name,)
            )
        ]
        if not versions:
            return NotFoundError(f"Prompt not found: no prompt named {name!r}.")
        labels = [
            r[0]
            for r in conn.execute(
                "SELECT label FROM prompt_labels WHERE name = ? ORDER BY label", (name,)
            )
        ]
        existing = (
            f"Labels: {', '.join(labels) if labels else '(none)'}; versions: {_ranges(versions)}."
        )
        if version is not None:
            return NotFoundError(f"Prompt {name!r} has no version {version}. {existing}")
        wanted = PRODUCTION if label is None else label
        default = " (the default when no label or version is given)" if label is None else ""
        return NotFoundError(f"Prompt {name!r} has no label {wanted!r}{default}. {existing}")

    def list_meta(self, filters: PromptListFilter, page: int, limit: int) -> tuple[list[Any], int]:
        """One ``PromptMeta`` per name with a version matching the filters; and the total."""
        conn = self.db.conn
        where = ["1 = 1"]
        params: list[Any] = []
        if filters.name is not None:
            where.append("p.name = ?")
            params.append(filters.name)
        if filters.label is not None:
            where.append(
                "EXISTS (SELECT 1 FROM prompt_labels l "
                "WHERE l.name = p.name AND l.version = p.version AND l.label = ?)"
            )
            params.append(filters.label)
        if filters.tag is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(n.tags) t WHERE t.value = ?)")
            params.append(filters.tag)
        if filters.from_updated_at is not None:
            where.append("p.updated_at >= ?")
            params.append(filters.from_updated_at)
        if filters.to_updated_at is not None:
            where.append("p.updated_at < ?")
            params.append(filters.to_updated_at)
        matching = "FROM prompts p JOIN prompt_names n ON n.name = p.name WHERE " + " AND ".join(
            where
        )
        total = int(conn.execute(f"SELECT COUNT(DISTINCT p.name) {matching}", params).fetchone()[0])
        names = [
            r[0]
            for r in conn.execute(
                f"SELECT DISTINCT p.name {matching} ORDER BY p.name LIMIT ? OFFSET ?",
                [*params, limit, (page - 1) * limit],
            )
        ]
        if not names:
            return [], total
        marks = ",".join("?" * len(names))
        rows = conn.execute(
            f"""SELECT p.name, n.type, n.tags, p.version, p.updated_at, p.config,
                (SELECT json_group_array(label) FROM prompt_labels l
                 WHERE l.name = p.name AND l.version = p.version) AS labels
            {matching} AND p.name IN ({marks}) ORDER BY p.name, p.version""",
            [*params, *names],
        ).fetchall()
        metas: dict[str, dict[str, Any]] = {}
        for row in rows:
            meta = metas.get(row["name"])
            if meta is None:
                meta = metas[row["name"]] = {
                    "name": row["name"],
                    "type": row["type"],
                    "versions": [],
                    "labels": set(),
                    "tags": json.loads(row["tags"]),
                    "lastUpdatedAt": row["updated_at"],
                    "lastConfig": None,
                }
            meta["versions"].append(row["version"])
            meta["labels"].update(json.loads(row["labels"]))
            meta["lastUpdatedAt"] = max(meta["lastUpdatedAt"], row["updated_at"])
            meta["lastConfig"] = json.loads(row["config"])  # rows ascend: the last one wins
        data = []
        for name in names:
            meta = metas[name]
            meta["labels"] = sorted(meta["labels"])
            data.append(meta)
        return data, total

    # writes (each in one serialised transaction)

    def create(self, new: NewPromptVersion) -> bytes:
        """Add version max+1, move its labels (and ``latest``) onto it; the ``Prompt`` JSON."""
        prompt_text = _json_text(new.prompt, "prompt")
        config_text = _json_text(new.config, "config")
        tags_text = None if new.tags is None else _json_text(new.tags, "tags")
        with self.db.write() as conn:
            existing = conn.execute(
                "SELECT type FROM prompt_names WHERE name = ?", (new.name,)
            ).fetchone()
            now = now_iso()
            if existing is None:
                conn.execute(
                    "INSERT INTO prompt_names (name, type, tags, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (new.name, new.type, tags_text or "[]", now, now),
                )
                version = 1
            else:
                if existing["type"] != new.type:
                    raise BadRequestError(
                        f"Prompt {new.name!r} is a {existing['type']} prompt; a new version "
                        f"cannot be a {new.type} prompt. Use another name for a {new.type} prompt."
                    )
                conn.execute(
                    "UPDATE prompt_names SET updated_at = ?, tags = COALESCE(?, tags) "
                    "WHERE name = ?",
                    (now, tags_text, new.name),
                )
                row = conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM prompts WHERE name = ?", (new.name,)
                ).fetchone()
                version = int(row[0]) + 1
            conn.execute(
                "INSERT INTO prompts (id, name, version, type, prompt, config, commit_message, "
                "created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'API', ?, ?)",
                (
                    str(uuid.uuid4()),
                    new.name,
                    version,
                    new.type,
                    prompt_text,
                    config_text,
                    new.commit_message,
                    now,
                    now,
                ),
            )
            self._assign(conn, new.name, version, [*new.labels, LATEST], now)
            return self._get_json(conn, new.name, version=version)

    def add_labels(self, name: str, version: int, labels: list[str]) -> bytes:
        """Put ``labels`` on one version, taking them off any other; the ``Prompt`` JSON."""
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT 1 FROM prompts WHERE name = ? AND version = ?", (name, version)
            ).fetchone()
            if found is None:
                raise self._not_found(conn, name, version=version)
            if labels:
                now = now_iso()
                self._assign(conn, name, version, labels, now)
                conn.execute("UPDATE prompt_names SET updated_at = ? WHERE name = ?", (now, name))
            return self._get_json(conn, name, version=version)

    def delete(self, name: str, *, version: int | None = None, label: str | None = None) -> int:
        """Delete all versions, one version, or the version carrying a label; how many went."""
        with self.db.write() as conn:
            if version is not None:
                victims = [
                    r[0]
                    for r in conn.execute(
                        "SELECT version FROM prompts WHERE name = ? AND version = ?",
                        (name, version),
                    )
                ]
            elif label is not None:
                victims = [
                    r[0]
                    for r in conn.execute(
                        "SELECT version FROM prompt_labels WHERE name = ? AND label = ?",
                        (name, label),
                    )
                ]
            else:
                victims = [
                    r[0]
                    for r in conn.execute("SELECT version FROM prompts WHERE name = ?", (name,))
                ]
            if not victims:
                raise self._not_found(conn, name, label=label, version=version)
            marks = ",".join("?" * len(victims))
            conn.execute(
                f"DELETE FROM prompts WHERE name = ? AND version IN ({marks})", (name, *victims)
            )
            newest = conn.execute(
                "SELECT MAX(version) FROM prompts WHERE name = ?", (name,)
            ).fetchone()[0]
            if newest is None:
                conn.execute("DELETE FROM prompt_names WHERE name = ?", (name,))
            else:
                now = now_iso()
                conn.execute(
                    "INSERT INTO prompt_labels (name, label, version) VALUES (?, ?, ?) "
                    "ON CONFLICT (name, label) DO NOTHING",
                    (name, LATEST, newest),
                )
                conn.execute("UPDATE prompt_names SET updated_at = ? WHERE name = ?", (now, name))
            return len(victims)

    @staticmethod
    def _assign(
        conn: sqlite3.Connection, name: str, version: int, labels: list[str], now: str
    ) -> None:
        """Move each label to ``version``; versions that lose a label count as updated."""
        marks = ",".join("?" * len(labels))
        conn.execute(
            f"UPDATE prompts SET updated_at = ? WHERE name = ? AND version IN ("
            f"SELECT version FROM prompt_labels WHERE name = ? AND label IN ({marks}) "
            f"AND version != ?)",
            (now, name, name, *labels, version),
        )
        conn.executemany(
            "INSERT INTO prompt_labels (name, label, version) VALUES (?, ?, ?) "
            "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version",
            [(name, label, version) for label in labels],
        )
        conn.execute(
            "UPDATE prompts SET updated_at = ? WHERE name = ? AND version = ?",
            (now, name, version),
        )


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` → ``"1-3, 5"``: version lists stay short in messages."""
    parts: list[str] = []
    start = prev = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == prev + 1:
            prev = number
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if number is not None:
            start = prev = number
    return ", ".join(parts)
