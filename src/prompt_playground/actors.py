"""Who does something, and whether they may move a protected label.

The app's signed-in user (OIDC: email, name, groups) or, on the CLI and in a single-user app,
``PLAYGROUND_ACTOR`` or the OS user. Runs, drafts and label moves record the actor's text
(``alice@example.com (app)``); ``PLAYGROUND_PROMOTERS`` (emails or OIDC group names) decides who
may move a protected label, checked by the promotion use case for every entry point.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from prompt_playground.errors import PlaygroundError

EntryPoint = Literal["cli", "app"]


class NotAPromoterError(PlaygroundError):
    """The actor may not move a protected label (``PLAYGROUND_PROMOTERS``)."""


@dataclass(frozen=True)
class Actor:
    """Someone acting through an entry point.

    ``id`` is what identifies them to ``PLAYGROUND_PROMOTERS`` and in the records: the email
    when the identity provider gives one, else the name or subject, else the OS user.
    """

    id: str
    via: EntryPoint | None = None
    name: str | None = None
    groups: tuple[str, ...] = ()
    signed_in: bool = False

    def __str__(self) -> str:
        return f"{self.id} ({self.via})" if self.via else self.id

    def describe(self) -> str:
        """``Alice <alice@example.com>`` for people, else the id."""
        if self.name and self.name != self.id:
            return f"{self.name} <{self.id}>"
        return self.id


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def local_actor(via: EntryPoint, configured: str | None = None) -> Actor:
    """The CLI's actor, and the single-user app's: ``PLAYGROUND_ACTOR`` or the OS user."""
    name = (configured or "").strip() or os_user()
    return Actor(id=name, via=via)


def as_actor(actor: Actor | str) -> Actor:
    """An actor given as plain text (``"alice (cli)"``) is taken at its word."""
    if isinstance(actor, Actor):
        return actor
    text = actor.strip()
    for via in ("cli", "app"):
        suffix = f" ({via})"
        if text.endswith(suffix):
            return Actor(id=text[: -len(suffix)].strip(), via=via)
    return Actor(id=text)


def parse_promoters(value: str | Iterable[str] | None) -> list[str]:
    """``"a@x.com, release-managers"`` → ``["a@x.com", "release-managers"]`` (blanks dropped)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if item and str(item).strip()]


def may_promote(actor: Actor, promoters: Sequence[str]) -> bool:
    """True when no promoters are configured (everyone may), or the actor's id or one of its
    groups is listed (case-insensitive)."""
    if not promoters:
        return True
    listed = {p.strip().casefold() for p in promoters}
    return actor.id.casefold() in listed or any(g.casefold() in listed for g in actor.groups)


def promote_refusal(
    actor: Actor,
    label: str,
    *,
    protected_labels: Sequence[str],
    promoters: Sequence[str],
) -> str | None:
    """Why ``actor`` may not move ``label`` (None: they may). Unprotected labels are anyone's."""
    if label not in protected_labels or may_promote(actor, promoters):
        return None
    groups = f" (groups: {', '.join(actor.groups)})" if actor.groups else ""
    return (
        f"Only promoters may move the protected label '{label}': {actor.id}{groups} is not "
        "listed in PLAYGROUND_PROMOTERS. Ask a promoter, or move an unprotected label."
    )


def actor_from_claims(claims: Mapping[str, Any], via: EntryPoint = "app") -> Actor:
    """The signed-in user from the ID token's claims (``st.user``): the email when there is
    one, else ``preferred_username``, ``name`` or ``sub``; groups from the ``groups`` claim (a
    list, or one comma-separated string)."""
    ident = next(
        (
            str(claims[key]).strip()
            for key in ("email", "preferred_username", "name", "sub")
            if isinstance(claims.get(key), str) and str(claims[key]).strip()
        ),
        "unknown",
    )
    raw = claims.get("groups")
    groups = parse_promoters(raw if isinstance(raw, str | list | tuple) else None)
    name = claims.get("name")
    return Actor(
        id=ident,
        via=via,
        name=name.strip() if isinstance(name, str) and name.strip() else None,
        groups=tuple(str(g) for g in groups),
        signed_in=True,
    )
