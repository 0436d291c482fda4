"""Drafts: unsaved prompt versions (messages + config) that run like a label or a version.

A draft lives in the run store until it is saved; it never reaches Langfuse before that. Its
content hash uses the same normalisation as ``sync``, so a draft equal to an existing version is
recognised as that version, and runs made on the draft can be linked to the version it became.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prompt_playground.errors import PlaygroundError, SchemaError
from prompt_playground.models import DRAFT_PREFIX
from prompt_playground.prompts import PromptType, PromptVersion, normalized_content, sync_specs
from prompt_playground.schema import model_from_schema

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class DraftError(PlaygroundError):
    """A draft cannot be read, named or saved as given."""


def check_name(name: str) -> str:
    """A draft name: letters, digits, ``.``, ``_``, ``-``; up to 64 characters."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise DraftError(
            f"'{name}' cannot name a draft: use letters, digits, '.', '_' or '-' (up to 64 "
            "characters, starting with a letter or digit), e.g. 'shorter-summary'."
        )
    return name


def content_hash(prompt: Any, config: Mapping[str, Any]) -> str:
    """SHA-256 of the normalised content (the same normalisation as ``sync``)."""
    return hashlib.sha256(normalized_content(prompt, config).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Draft:
    """An unsaved version of ``prompt_name``, based on ``base_version`` (None: from a file)."""

    name: str
    prompt_name: str
    type: PromptType
    prompt: str | list[dict[str, Any]]
    config: dict[str, Any]
    base_version: int | None = None
    updated_at: str = ""
    saved_version: int | None = None
    tags: list[str] = field(default_factory=list)
    actor: str | None = None  # who saved it last (the store keeps it)

    @property
    def key(self) -> str:
        """The draft's variant name: ``draft:<name>``."""
        return DRAFT_PREFIX + self.name

    @property
    def content_hash(self) -> str:
        return content_hash(self.prompt, self.config)

    def as_prompt_version(self) -> PromptVersion:
        """The draft as a prompt version without an SDK client (its calls link to no version)."""
        return PromptVersion(
            name=self.prompt_name,
            version=self.base_version or 0,
            type=self.type,
            prompt=self.prompt,
            config=dict(self.config),
            labels=[],
            tags=list(self.tags),
            commit_message=None,
            draft=self.name,
        )

    def meta(self) -> dict[str, Any]:
        """What a run keeps of the draft: its full content and content hash."""
        return {
            "name": self.name,
            "content_hash": self.content_hash,
            "base_version": self.base_version,
            "type": self.type,
            "prompt": self.prompt,
            "config": self.config,
        }


def from_version(version: PromptVersion, name: str) -> Draft:
    """A new draft holding ``version``'s content."""
    return Draft(
        name=check_name(name),
        prompt_name=version.name,
        type=version.type,
        prompt=version.prompt
        if isinstance(version.prompt, str)
        else [dict(m) for m in version.prompt],
        config=dict(version.config),
        base_version=version.version if version.draft is None else None,
        tags=list(version.tags),
    )


def from_sync_file(path: Path) -> Draft:
    """A draft from a sync file holding one prompt (one version); named after the file stem."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DraftError(f"Cannot read the draft file {path}: {exc}") from exc
    specs = sync_specs(document, source=str(path))
    if len(specs) != 1:
        raise DraftError(f"{path} holds {len(specs)} prompts; a draft file holds exactly one.")
    spec = specs[0]
    versions = spec.get("versions", [spec])
    if len(versions) != 1:
        raise DraftError(
            f"{path} lists {len(versions)} versions of '{spec['name']}'; a draft is one version. "
            "Keep only the version to try."
        )
    version = versions[0]
    type_: PromptType = "chat" if spec.get("type", "text") == "chat" else "text"
    prompt = version["prompt"]
    config = dict(version.get("config") or {})
    check_content(type_, prompt, config, where=str(path))
    return Draft(
        name=check_name(path.stem),
        prompt_name=str(spec["name"]),
        type=type_,
        prompt=prompt,
        config=config,
        tags=list(spec.get("tags") or []),
    )


def check_content(type_: str, prompt: Any, config: Any, *, where: str = "The draft") -> None:
    """Refuse content that could not run: wrong message shapes, a config that is not an object,
    a response schema that does not build a model (checked before any call)."""
    if type_ == "chat":
        if not isinstance(prompt, list) or not all(
            isinstance(m, dict)
            and (m.get("type") == "placeholder" or {"role", "content"} <= set(m))
            for m in prompt
        ):
            raise DraftError(
                f"{where}: messages must be a list of objects with 'role' and 'content' "
                "(or placeholders with type 'placeholder' and a 'name')."
            )
    elif not isinstance(prompt, str) or not prompt.strip():
        raise DraftError(f"{where}: the prompt text is empty.")
    if not isinstance(config, dict):
        raise DraftError(f"{where}: config must be a JSON object.")
    schema = config.get("response_schema")
    if schema is not None:
        if not isinstance(schema, dict):
            raise SchemaError(f"{where}: the response schema must be a JSON object.")
        try:
            model_from_schema(schema)
        except SchemaError as exc:
            raise SchemaError(
                f"{where}: response schema: {exc.message}", details=exc.details
            ) from exc
    elif "response_model" not in config:
        raise SchemaError(
            f"{where}: a version needs a response schema (or config.response_model) so runs "
            "can validate the output."
        )


def parse_texts(
    type_: str, messages: str, config: str, schema: str, *, where: str = "The draft"
) -> tuple[str | list[dict[str, Any]], dict[str, Any]]:
    """An editor's texts (messages as JSON for chat prompts, config and schema as JSON) →
    ``(prompt, config)``; the schema must build a model before anything runs or is saved."""
    prompt: str | list[dict[str, Any]]
    if type_ == "chat":
        try:
            prompt = json.loads(messages)
        except json.JSONDecodeError as exc:
            raise DraftError(
                f"Messages are not valid JSON ({exc.msg}, line {exc.lineno}). "
                'Write a list like [{"role": "system", "content": "..."}].'
            ) from exc
    else:
        prompt = messages
    try:
        config_obj = json.loads(config or "{}")
    except json.JSONDecodeError as exc:
        raise DraftError(f"Config is not valid JSON ({exc.msg}, line {exc.lineno}).") from exc
    if not isinstance(config_obj, dict):
        raise DraftError("Config must be a JSON object.")
    try:
        schema_obj = json.loads(schema or "{}")
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"The response schema is not valid JSON ({exc.msg}, line {exc.lineno})."
        ) from exc
    if schema_obj:
        config_obj["response_schema"] = schema_obj
    check_content(type_, prompt, config_obj, where=where)
    return prompt, config_obj
