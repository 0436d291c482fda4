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
from local_langfuse.errors import (
    BadRequestError,
    NotFoundError,
    ValidationApiError,
    invalid,
    issue,
)
from local_langfuse.http import json_type, now_iso

PromptType = Literal["text", "chat"]

LATEST = "latest"
PRODUCTION = "production"
NAME_MAX_LENGTH = 255
LABEL_MAX_LENGTH = 36
COMMIT_MESSAGE_MAX_LENGTH = 500
TAG_MAX_LENGTH = 255
# Static pages next to /prompts/[[...folder]] in Langfuse's web app (RESERVED_PROMPT_NAMES).
RESERVED_NAMES = frozenset({"new", "metrics", "prompt-detail"})
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
            WHERE l.name = p.name AND l.version = p.version ORDER BY position, label
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
    version: int | None = None
    label: str | None = None
    tag: str | None = None
    from_updated_at: str | None = None
    to_updated_at: str | None = None


# --- validation -----------------------------------------------------------------------------
# The rules and messages of Langfuse's zod schemas (packages/shared/src/features/prompts/,
# folders/validation.ts, utils/zod.ts) and of web/.../prompts/server/actions/createPrompt.ts.

LABEL_PATTERN_MESSAGE = (
    "Label must be lowercase alphanumeric with optional underscores, hyphens, or periods"
)
PLACEHOLDER_NAME_MESSAGE = (
    "Placeholder name must start with a letter and contain only alphanumeric characters and "
    "underscores"
)
_HTML_TAG = re.compile(r"<[^<>]*>")
_PLACEHOLDER_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_MUSTACHE = re.compile(r"{{([^{}]*)}}")


def _is_variable_name(text: str) -> bool:
    r"""Langfuse's ``VARIABLE_REGEX`` (``^\p{L}[\p{L}\p{N}_]*$``): a letter, then letters,
    numbers or underscores."""
    return bool(text) and text[0].isalpha() and all(c.isalnum() or c == "_" for c in text)


def extract_variables(text: str) -> list[str]:
    """The ``{{variable}}`` names of a text, first occurrence order (``extractVariables``)."""
    found: list[str] = []
    for match in _MUSTACHE.finditer(text):
        name = match.group(1)
        if _is_variable_name(name) and name not in found:
            found.append(name)
    return found


def check_name(name: Any, field: str = "name") -> str:
    """A prompt name as Langfuse's ``PromptNameSchema`` accepts it, trimmed; else a 400.

    Unlike Langfuse, the folder rules are checked on the trimmed name as well, so that
    ``"a/ "`` cannot be stored as ``"a/"``, a name Langfuse itself refuses.
    """
    if not isinstance(name, str):
        raise invalid(
            field, f"Field '{field}' must be a string, got {json_type(name)}.", "invalid_type"
        )
    if not name:
        raise invalid(field, "Text cannot be empty", "too_small")
    trimmed = name.strip()
    problems: list[dict[str, Any]] = []
    if _HTML_TAG.search(name):
        problems.append(issue(field, "Text cannot contain HTML tags"))
    if "|" in name:
        problems.append(issue(field, "Prompt name cannot contain '|' character", "invalid_format"))
    if name.startswith("/") or trimmed.startswith("/"):
        problems.append(issue(field, "Name cannot start with a slash", "invalid_format"))
    if "//" in name:
        problems.append(issue(field, "Name cannot contain consecutive slashes", "invalid_format"))
    if name.endswith("/") or trimmed.endswith("/"):
        problems.append(issue(field, "Name cannot end with a slash", "invalid_format"))
    # Not Langfuse's rules, but names it could not store or route either.
    if len(name) > NAME_MAX_LENGTH:
        problems.append(
            issue(field, f"Name is {len(name)} characters long; at most {NAME_MAX_LENGTH}.")
        )
    if _CONTROL_CHARS.search(trimmed):
        problems.append(issue(field, f"Prompt name cannot contain control characters: {name!r}"))
    if problems:
        raise ValidationApiError(problems)
    if not trimmed:
        raise invalid(field, "Name cannot be empty")
    if trimmed in RESERVED_NAMES:
        raise invalid(field, f"Prompt name cannot be '{trimmed}'")
    return trimmed


def check_label(label: Any, path: list[str | int]) -> str:
    """A label by ``PromptLabelSchema`` (1-36 characters, lowercase pattern), else a 400."""
    if not isinstance(label, str):
        raise invalid(path, f"Expected a string label, got {json_type(label)}.", "invalid_type")
    if not label:
        raise invalid(path, "Too small: expected string to have >=1 characters", "too_small")
    if len(label) > LABEL_MAX_LENGTH:
        raise invalid(
            path, f"Too big: expected string to have <={LABEL_MAX_LENGTH} characters", "too_big"
        )
    if not _LABEL_PATTERN.fullmatch(label):
        raise invalid(path, LABEL_PATTERN_MESSAGE, "invalid_format")
    return label


def check_labels(value: Any, field: str, *, allow_latest: bool) -> list[str]:
    """A list of labels, deduplicated with the first occurrence kept (Langfuse's ``Set``).

    Create takes ``latest`` (and keeps it once); PATCH refuses it, as Langfuse does.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(
            field,
            f"Field '{field}' must be a list of strings, got {json_type(value)}.",
            "invalid_type",
        )
    labels: list[str] = []
    for index, item in enumerate(value):
        label = check_label(item, [field, index])
        if label == LATEST and not allow_latest:
            raise invalid(field, "Label 'latest' is always assigned to the latest prompt version")
        if label not in labels:
            labels.append(label)
    return labels


def _check_tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(
            "tags",
            f"Field 'tags' must be a list of strings, got {json_type(value)}.",
            "invalid_type",
        )
    tags: list[str] = []
    for index, item in enumerate(value):
        path: list[str | int] = ["tags", index]
        if not isinstance(item, str):
            raise invalid(
                path,
                f"Field 'tags[{index}]' must be a string, got {json_type(item)}.",
                "invalid_type",
            )
        if not item.strip():
            raise invalid(path, f"Field 'tags[{index}]' must not be empty.", "too_small")
        if len(item) > TAG_MAX_LENGTH:
            raise invalid(
                path,
                f"Field 'tags[{index}]' is longer than {TAG_MAX_LENGTH} characters.",
                "too_big",
            )
        if item not in tags:
            tags.append(item)
    return tags


def _check_message(item: Any, index: int) -> dict[str, str]:
    field = f"prompt[{index}]"
    if not isinstance(item, dict):
        raise invalid(
            ["prompt", index],
            f'Field \'{field}\' must be a message object ({{"role", "content"}}) or a '
            f'placeholder ({{"type": "placeholder", "name"}}), got {json_type(item)}.',
            "invalid_union",
        )
    kind = item.get("type")
    if kind == "placeholder" or (kind is None and "role" not in item and "name" in item):
        name = item.get("name")
        path: list[str | int] = ["prompt", index, "name"]
        if not isinstance(name, str):
            raise invalid(
                path,
                f"Field '{field}.name' must be a string naming the placeholder, got "
                f"{json_type(name)}.",
                "invalid_type",
            )
        if not _PLACEHOLDER_NAME.fullmatch(name):
            raise invalid(path, PLACEHOLDER_NAME_MESSAGE, "invalid_format")
        return {"type": "placeholder", "name": name}
    if kind not in (None, "chatmessage"):
        raise invalid(
            ["prompt", index, "type"],
            f"Field '{field}.type' must be 'chatmessage', 'placeholder' or absent, got "
            f'{kind!r}. Send chat messages as {{"role", "content"}}.',
            "invalid_value",
        )
    role = item.get("role")
    content = item.get("content")
    if not isinstance(role, str) or not role:
        raise invalid(
            ["prompt", index, "role"],
            f"Field '{field}.role' must be a non-empty string, got {json_type(role)}.",
            "invalid_type",
        )
    if not isinstance(content, str):
        raise invalid(
            ["prompt", index, "content"],
            f"Field '{field}.content' must be a string, got {json_type(content)}.",
            "invalid_type",
        )
    message = {"role": role, "content": content}
    if kind == "chatmessage":
        message["type"] = kind
    return message


def _check_placeholders_unique(messages: list[dict[str, str]]) -> None:
    """A name may not be both a ``{{variable}}`` and a placeholder (``createPrompt.ts``)."""
    placeholders = {m["name"] for m in messages if m.get("type") == "placeholder"}
    if not placeholders:
        return
    variables: list[str] = []
    for message in messages:
        for name in extract_variables(message.get("content", "")):
            if name not in variables:
                variables.append(name)
    conflicts = [name for name in variables if name in placeholders]
    if conflicts:
        raise BadRequestError(
            "Cannot create prompt, variables and placeholders must be unique, the following "
            f"are not: {', '.join(conflicts)}"
        )


def _check_unicode(body: Any) -> None:
    """JSON may escape lone surrogates (``"\\ud800"``); they are not text SQLite can store."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError as exc:
        raise BadRequestError(
            "Request body contains an unpaired UTF-16 surrogate escape (e.g. \\ud800), "
            "which is not valid Unicode text."
        ) from exc


def _body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(
            [], f"Request body must be a JSON object, got {json_type(body)}.", "invalid_type"
        )
    _check_unicode(body)
    return body


def parse_create_request(body: Any) -> NewPromptVersion:
    """Validate a create-prompt body; a problem is a 400 with Langfuse's validation body."""
    body = _body_object(body)
    if "name" not in body:
        raise invalid("name", "Field 'name' is required.", "invalid_type")
    name = check_name(body["name"])
    raw_type = body.get("type")
    kind: PromptType
    if raw_type is None or raw_type == "text":
        kind = "text"
    elif raw_type == "chat":
        kind = "chat"
    else:
        raise invalid(
            "type", f"Field 'type' must be 'text' or 'chat', got {raw_type!r}.", "invalid_value"
        )
    if "prompt" not in body:
        raise invalid("prompt", "Field 'prompt' is required.", "invalid_type")
    raw_prompt = body["prompt"]
    prompt: str | list[dict[str, str]]
    if kind == "text":
        if not isinstance(raw_prompt, str):
            hint = ' (a list of messages needs "type": "chat")'
            raise invalid(
                "prompt",
                "Field 'prompt' must be a string for a text prompt, got "
                f"{json_type(raw_prompt)}{hint if isinstance(raw_prompt, list) else ''}.",
                "invalid_type",
            )
        prompt = raw_prompt
    else:
        if not isinstance(raw_prompt, list):
            raise invalid(
                "prompt",
                "Field 'prompt' must be a list of messages for a chat prompt, got "
                f"{json_type(raw_prompt)}.",
                "invalid_type",
            )
        prompt = [_check_message(item, i) for i, item in enumerate(raw_prompt)]
    config = body.get("config")
    commit_message = body.get("commitMessage")
    if commit_message is not None:
        if not isinstance(commit_message, str):
            raise invalid(
                "commitMessage",
                f"Field 'commitMessage' must be a string, got {json_type(commit_message)}.",
                "invalid_type",
            )
        if len(commit_message) > COMMIT_MESSAGE_MAX_LENGTH:
            raise invalid(
                "commitMessage",
                f"Too big: expected string to have <={COMMIT_MESSAGE_MAX_LENGTH} characters",
                "too_big",
            )
    labels = check_labels(body.get("labels"), "labels", allow_latest=True)
    tags = _check_tags(body.get("tags"))
    if isinstance(prompt, list):
        _check_placeholders_unique(prompt)
    return NewPromptVersion(
        name=name,
        type=kind,
        prompt=prompt,
        config={} if config is None else config,
        labels=labels,
        tags=tags,
        commit_message=commit_message,
    )


def parse_new_labels(body: Any) -> list[str]:
    """Validate a ``{"newLabels": [...]}`` body."""
    body = _body_object(body)
    if "newLabels" not in body:
        raise invalid(
            "newLabels", "Field 'newLabels' is required (a list of labels).", "invalid_type"
        )
    if body["newLabels"] is None:
        raise invalid(
            "newLabels", "Field 'newLabels' must be a list of strings, got null.", "invalid_type"
        )
    return check_labels(body["newLabels"], "newLabels", allow_latest=False)


def _json_text(value: Any, field: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise invalid(field, f"Field '{field}' contains a value JSON cannot represent.") from exc


# --- storage --------------------------------------------------------------------------------


class PromptStore:
    """Prompts of one project in a :class:`Database`. Reads use the calling thread's connection."""

    def __init__(self, db: Database, project_id: str) -> None:
        self.db = db
        self.project_id = project_id

    # reads

    def get_json(self, name: str, *, label: str | None = None, version: int | None = None) -> bytes:
        """The ``Prompt`` JSON by label or version (neither: ``production``), or a 404.

        Kept per thread until the next write to the database (``Database.cached_read``): SDKs
        poll prompts far more often than they change, and the query is most of a GET's cost.
        """
        return self.db.cached_read(
            ("prompt", self.project_id, name, label, version),
            lambda conn: self._get_json(conn, name, label=label, version=version),
        )

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
        if filters.version is not None:
            where.append("p.version = ?")
            params.append(filters.version)
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
                        "Previous versions have different prompt type. Create a new prompt "
                        f"with a different name. ({new.name!r} is a {existing['type']} prompt; "
                        f"this version is a {new.type} prompt.)"
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
            # Langfuse's order: the labels as given, then `latest` unless given already.
            labels = new.labels if LATEST in new.labels else [*new.labels, LATEST]
            self._assign(conn, new.name, version, labels, now)
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
                    "INSERT INTO prompt_labels (name, label, version, position) "
                    "SELECT ?, ?, ?, COALESCE(MAX(position) + 1, 0) FROM prompt_labels "
                    "WHERE name = ? AND version = ? "
                    "ON CONFLICT (name, label) DO NOTHING",
                    (name, LATEST, newest, name, newest),
                )
                conn.execute("UPDATE prompt_names SET updated_at = ? WHERE name = ?", (now, name))
            return len(victims)

    @staticmethod
    def _assign(
        conn: sqlite3.Connection, name: str, version: int, labels: list[str], now: str
    ) -> None:
        """Move each label to ``version``, ahead of the labels it has (Langfuse's order:
        ``new Set([...newLabels, ...labels])``); versions that lose a label count as updated."""
        marks = ",".join("?" * len(labels))
        row = conn.execute(
            "SELECT MIN(position) FROM prompt_labels WHERE name = ? AND version = ?",
            (name, version),
        ).fetchone()
        first = (0 if row[0] is None else int(row[0])) - len(labels)
        conn.execute(
            f"UPDATE prompts SET updated_at = ? WHERE name = ? AND version IN ("
            f"SELECT version FROM prompt_labels WHERE name = ? AND label IN ({marks}) "
            f"AND version != ?)",
            (now, name, name, *labels, version),
        )
        conn.executemany(
            "INSERT INTO prompt_labels (name, label, version, position) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, label) DO UPDATE "
            "SET version = excluded.version, position = excluded.position",
            [(name, label, version, first + index) for index, label in enumerate(labels)],
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
