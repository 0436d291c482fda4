"""Prompts over the langfuse SDK: list, get by label or version, versions, diff, promote, sync.

Every read bypasses the SDK's prompt cache (``cache_ttl_seconds=0``) so that an analyst who just
moved a label sees it at once. Third-party errors are translated here into ``PlaygroundError``\\s.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from langfuse import Langfuse
from langfuse.api.core.api_error import ApiError
from langfuse.model import PromptClient

from prompt_playground.errors import (
    PromotionError,
    PromptNotFoundError,
    PromptStoreError,
    SamplesError,
)
from prompt_playground.models import Variant

PromptType = Literal["text", "chat"]

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}")


@dataclass(frozen=True)
class PromptSummary:
    """One prompt in the list: its type, versions, labels and tags."""

    name: str
    type: PromptType
    versions: list[int]
    labels: list[str]
    tags: list[str]
    last_updated_at: str | None = None


@dataclass(frozen=True)
class PromptVersion:
    """One version of a prompt as stored in Langfuse, plus the SDK client used for linking."""

    name: str
    version: int
    type: PromptType
    prompt: str | list[dict[str, Any]]
    config: dict[str, Any]
    labels: list[str]
    tags: list[str]
    commit_message: str | None
    client: PromptClient | None = field(default=None, compare=False, repr=False)
    #: Set on an unsaved draft (``version`` is then the version it is based on, or 0).
    draft: str | None = None

    @property
    def display(self) -> str:
        """``v3``, or ``draft 'x'`` for an unsaved draft."""
        return f"draft '{self.draft}'" if self.draft is not None else f"v{self.version}"

    @property
    def variables(self) -> list[str]:
        """Template variables, in order of first appearance (``{{name}}``)."""
        return template_variables(self.prompt)

    @property
    def placeholders(self) -> list[str]:
        if isinstance(self.prompt, str):
            return []
        return [m["name"] for m in self.prompt if m.get("type") == "placeholder"]

    def compile(
        self,
        variables: Mapping[str, Any],
        chat: Sequence[Mapping[str, str]] | None = None,
    ) -> list[dict[str, str]]:
        """The messages to send. Missing variables raise before any model call.

        ``chat`` (a multi-turn sample) fills the first placeholder, or follows the prompt's
        own messages when it has none.
        """
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise SamplesError(
                f"Prompt '{self.name}' {self.display} needs {', '.join(map(repr, missing))}, "
                "which the sample does not provide. "
                f"Provided: {', '.join(sorted(variables)) or 'none'}."
            )
        values = {k: _as_text(v) for k, v in variables.items()}

        def fill(text: str) -> str:
            return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)

        turns = [dict(m) for m in chat] if chat else []
        if isinstance(self.prompt, str):
            return [{"role": "user", "content": fill(self.prompt)}, *turns]
        messages: list[dict[str, str]] = []
        placed = False
        for message in self.prompt:
            if message.get("type") == "placeholder":
                if not placed and turns:
                    messages.extend(turns)
                    placed = True
                continue
            messages.append({"role": message["role"], "content": fill(message["content"])})
        if turns and not placed:
            messages.extend(turns)
        return messages


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def template_variables(prompt: str | Sequence[Mapping[str, Any]]) -> list[str]:
    texts = [prompt] if isinstance(prompt, str) else [str(m.get("content", "")) for m in prompt]
    seen: dict[str, None] = {}
    for text in texts:
        for match in _VARIABLE.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


@dataclass(frozen=True)
class PromptDiff:
    """What changed between two versions: unified text diffs per part."""

    name: str
    old_version: int
    new_version: int
    messages: list[str]
    config: list[str]
    schema: list[str]

    @property
    def unchanged(self) -> bool:
        return not (self.messages or self.config or self.schema)


@dataclass(frozen=True)
class Promotion:
    """A label moved: from which version (None when it was new) to which."""

    name: str
    label: str
    version: int
    previous_version: int | None

    @property
    def changed(self) -> bool:
        return self.previous_version != self.version


@dataclass(frozen=True)
class SyncOutcome:
    name: str
    status: Literal["unchanged", "created"]
    version: int


RESERVED_LABELS = frozenset({"latest"})


class LangfusePromptStore:
    """Prompt management through the official SDK (Langfuse Cloud, self-hosted or embedded)."""

    def __init__(self, client: Langfuse, *, base_url: str) -> None:
        self._lf = client
        self._base_url = base_url

    # -- reads -------------------------------------------------------------------------------

    def list_prompts(self) -> list[PromptSummary]:
        summaries: list[PromptSummary] = []
        page = 1
        while True:
            with self._translate("list prompts"):
                response = self._lf.api.prompts.list(page=page, limit=100)
            for meta in response.data:
                summaries.append(
                    PromptSummary(
                        name=meta.name,
                        type="chat" if str(meta.type).endswith("chat") else "text",
                        versions=sorted(meta.versions),
                        labels=sorted(meta.labels),
                        tags=sorted(meta.tags),
                        last_updated_at=meta.last_updated_at.isoformat(),
                    )
                )
            if page >= response.meta.total_pages:
                break
            page += 1
        return sorted(summaries, key=lambda s: s.name)

    def get(self, name: str, variant: Variant | None = None) -> PromptVersion:
        """A version by label or number (``production`` when no variant is given)."""
        variant = variant or Variant(label="production")
        what = f"label '{variant.label}'" if variant.label else f"version {variant.version}"
        try:
            with self._translate(f"get prompt '{name}' ({what})"):
                client = self._lf.get_prompt(
                    name,
                    label=variant.label,
                    version=variant.version,
                    cache_ttl_seconds=0,
                    max_retries=0,
                )
        except PromptNotFoundError as exc:
            raise self._not_found(name, what) from exc
        return version_from_client(client)

    def exists(self, name: str) -> bool:
        with self._translate(f"look up prompt '{name}'"):
            response = self._lf.api.prompts.list(name=name, limit=1)
        return any(meta.name == name for meta in response.data)

    def versions(self, name: str) -> list[PromptVersion]:
        """Every version, newest first, with its labels and commit message."""
        summary = self._summary(name)
        with ThreadPoolExecutor(max_workers=8) as pool:
            found = list(pool.map(lambda v: self.get(name, Variant(version=v)), summary.versions))
        return sorted(found, key=lambda p: p.version, reverse=True)

    def diff(self, name: str, old: Variant, new: Variant) -> PromptDiff:
        return diff_versions(self.get(name, old), self.get(name, new))

    # -- writes ------------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        type: PromptType,
        prompt: str | list[dict[str, Any]],
        config: dict[str, Any] | None = None,
        labels: Sequence[str] = (),
        tags: Sequence[str] | None = None,
        commit_message: str | None = None,
    ) -> PromptVersion:
        bad = RESERVED_LABELS.intersection(labels)
        if bad:
            raise PromotionError("'latest' always follows the newest version; it cannot be set.")
        with self._translate(f"create a version of '{name}'"):
            request: dict[str, Any] = {
                "name": name,
                "type": type,
                "prompt": prompt,
                "config": config or {},
                "labels": list(labels),
                "tags": list(tags) if tags is not None else None,
                "commit_message": commit_message,
            }
            created = self._lf.create_prompt(**request)
        return version_from_client(created)

    def promote(self, name: str, version: int, label: str) -> Promotion:
        """Move ``label`` to ``version``, reporting which version held it before."""
        label = label.strip()
        if not label:
            raise PromotionError("Choose a label to promote to.")
        if label in RESERVED_LABELS:
            raise PromotionError(
                "'latest' always follows the newest version; promote to another label "
                "(e.g. production)."
            )
        target = self.get(name, Variant(version=version))
        try:
            previous: int | None = self.get(name, Variant(label=label)).version
        except PromptNotFoundError:
            previous = None
        if previous != version:
            with self._translate(f"move label '{label}' of '{name}' to v{version}"):
                self._lf.update_prompt(name=name, version=target.version, new_labels=[label])
        return Promotion(name=name, label=label, version=version, previous_version=previous)

    def sync(self, spec: Mapping[str, Any]) -> list[SyncOutcome]:
        """Create versions only where the spec differs from Langfuse; re-running creates nothing.

        A single-version spec is compared with the newest version. A spec with ``versions``
        (oldest first) creates each listed version that no existing version equals. Langfuse is
        read once per prompt, not once per listed version.
        """
        name = str(spec["name"])
        exists = self.exists(name)
        if "versions" not in spec:
            newest = [self.get(name, Variant(label="latest"))] if exists else []
            return [self._sync_one(name, spec, spec, newest)]
        existing = self.versions(name) if exists else []
        return [self._sync_one(name, spec, v, existing) for v in spec["versions"]]

    def _sync_one(
        self,
        name: str,
        spec: Mapping[str, Any],
        version: Mapping[str, Any],
        existing: list[PromptVersion],
    ) -> SyncOutcome:
        """Sync one version against ``existing`` (a created version is appended to it)."""
        type_: PromptType = "chat" if spec.get("type", "text") == "chat" else "text"
        prompt = version["prompt"]
        config = dict(version.get("config") or {})
        match = matching_version(existing, prompt, config)
        if match is not None:
            for label in version.get("labels") or []:
                if label not in match.labels:
                    self.promote(name, match.version, label)
            return SyncOutcome(name=name, status="unchanged", version=match.version)
        created = self.create_version(
            name,
            type=type_,
            prompt=prompt,
            config=config,
            labels=list(version.get("labels") or []),
            tags=spec.get("tags"),
            commit_message=version.get("commit_message"),
        )
        existing.append(created)
        return SyncOutcome(name=name, status="created", version=created.version)

    # -- helpers -----------------------------------------------------------------------------

    def _summary(self, name: str) -> PromptSummary:
        with self._translate(f"list versions of '{name}'"):
            response = self._lf.api.prompts.list(name=name, limit=100)
        for meta in response.data:
            if meta.name == name:
                return PromptSummary(
                    name=meta.name,
                    type="chat" if str(meta.type).endswith("chat") else "text",
                    versions=sorted(meta.versions),
                    labels=sorted(meta.labels),
                    tags=sorted(meta.tags),
                )
        raise self._not_found(name, None)

    def _not_found(self, name: str, what: str | None) -> PromptNotFoundError:
        try:
            response = self._lf.api.prompts.list(name=name, limit=100)
            metas = [m for m in response.data if m.name == name]
        except (ApiError, httpx.HTTPError):
            metas = []
        if not metas:
            return PromptNotFoundError(f"There is no prompt named '{name}' in Langfuse.")
        meta = metas[0]
        labels = ", ".join(sorted(meta.labels)) or "none"
        versions = ", ".join(str(v) for v in sorted(meta.versions))
        return PromptNotFoundError(
            f"Prompt '{name}' has no {what}. Labels: {labels}. Versions: {versions}."
        )

    def _translate(self, action: str) -> AbstractContextManager[None]:
        return translate_sdk_errors(action, self._base_url)


@contextmanager
def translate_sdk_errors(action: str, base_url: str) -> Iterator[None]:
    """Turn the langfuse SDK's errors into messages a person can act on."""
    try:
        yield
    except ApiError as exc:
        status = exc.status_code
        if status == 404:
            raise PromptNotFoundError(f"Could not {action}: not found.") from exc
        if status in (401, 403):
            raise PromptStoreError(
                f"Langfuse at {base_url} refused the keys (HTTP {status}). "
                "Check LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY.",
            ) from exc
        message = _api_message(exc.body)
        raise PromptStoreError(
            f"Could not {action}: Langfuse answered HTTP {status}"
            + (f": {message}" if message else "."),
        ) from exc
    except httpx.HTTPError as exc:
        raise PromptStoreError(
            f"Could not {action}: Langfuse at {base_url} is unreachable "
            f"({type(exc).__name__}). Is it running? Check LANGFUSE_BASE_URL.",
        ) from exc


def _api_message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return str(body or "")[:300]


def version_from_client(client: PromptClient) -> PromptVersion:
    """The SDK's prompt client as a :class:`PromptVersion` (chat messages without SDK 5's
    ``type: message``), keeping the client for linking generations to the version."""
    raw_prompt: Any = client.prompt
    if isinstance(raw_prompt, str):
        prompt: str | list[dict[str, Any]] = raw_prompt
        type_: PromptType = "text"
    else:
        prompt = [dict(m) for m in raw_prompt]
        for message in prompt:
            if message.get("type") in {"message", "chatmessage"}:  # SDK 5 says "message"
                message.pop("type")
        type_ = "chat"
    return PromptVersion(
        name=client.name,
        version=client.version,
        type=type_,
        prompt=prompt,
        config=dict(client.config or {}),
        labels=list(client.labels),
        tags=list(client.tags),
        commit_message=client.commit_message,
        client=client,
    )


def matching_version(
    versions: Sequence[PromptVersion], prompt: Any, config: Mapping[str, Any]
) -> PromptVersion | None:
    """The version whose content equals ``prompt`` + ``config`` after normalisation (as sync)."""
    wanted = normalized_content(prompt, config)
    return next((v for v in versions if normalized_content(v.prompt, v.config) == wanted), None)


def normalized_content(prompt: Any, config: Mapping[str, Any]) -> str:
    """Messages (trimmed, placeholders by name) and config as canonical JSON: what ``sync``
    and drafts compare to tell whether two versions hold the same content."""
    if isinstance(prompt, list):
        prompt = [
            {k: (v.strip() if isinstance(v, str) else v) for k, v in m.items() if k != "type"}
            if m.get("type") != "placeholder"
            else {"type": "placeholder", "name": m["name"]}
            for m in prompt
        ]
    elif isinstance(prompt, str):
        prompt = prompt.strip()
    return json.dumps({"prompt": prompt, "config": config}, sort_keys=True, ensure_ascii=False)


def _pretty(value: Any) -> list[str]:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def _unified(old: list[str], new: list[str], label: str, a: str, b: str) -> list[str]:
    return list(difflib.unified_diff(old, new, f"{label} {a}", f"{label} {b}", lineterm="", n=2))


def diff_versions(old: PromptVersion, new: PromptVersion) -> PromptDiff:
    """Unified diffs of messages, config (without the schema) and the response schema."""

    def messages(p: PromptVersion) -> list[str]:
        if isinstance(p.prompt, str):
            return p.prompt.splitlines()
        lines: list[str] = []
        for m in p.prompt:
            if m.get("type") == "placeholder":
                lines.append(f"[placeholder: {m['name']}]")
            else:
                lines.append(f"[{m['role']}]")
                lines.extend(str(m["content"]).splitlines())
        return lines

    def config(p: PromptVersion) -> dict[str, Any]:
        return {k: v for k, v in p.config.items() if k != "response_schema"}

    a, b = old.display, new.display
    return PromptDiff(
        name=new.name,
        old_version=old.version,
        new_version=new.version,
        messages=_unified(messages(old), messages(new), "messages", a, b),
        config=_unified(_pretty(config(old)), _pretty(config(new)), "config", a, b),
        schema=_unified(
            _pretty(old.config.get("response_schema")),
            _pretty(new.config.get("response_schema")),
            "schema",
            a,
            b,
        ),
    )


def sync_specs(document: Any, *, source: str) -> list[dict[str, Any]]:
    """The prompt specs of a sync file: one prompt, a list, or ``{prompts: [...]}``."""
    if isinstance(document, dict) and "prompts" in document:
        document = document["prompts"]
    specs = document if isinstance(document, list) else [document]
    checked: list[dict[str, Any]] = []
    for index, spec in enumerate(specs, start=1):
        where = f"{source}, prompt #{index}"
        if not isinstance(spec, dict) or not spec.get("name"):
            raise PromptStoreError(f"{where}: each prompt needs a 'name'.")
        versions = spec.get("versions", [spec])
        if not isinstance(versions, list) or not versions:
            raise PromptStoreError(f"{where} ('{spec['name']}'): 'versions' must be a list.")
        for version in versions:
            if not isinstance(version, dict) or "prompt" not in version:
                raise PromptStoreError(f"{where} ('{spec['name']}'): every version needs 'prompt'.")
            labels = version.get("labels") or []
            if "latest" in labels:
                raise PromptStoreError(
                    f"{where} ('{spec['name']}'): 'latest' follows the newest version by itself; "
                    "remove it from labels."
                )
        checked.append(spec)
    return checked
