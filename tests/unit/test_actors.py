"""Actors: who the signed-in user is from the ID token's claims, the CLI's actor, and who may
move a protected label."""

from __future__ import annotations

import pytest

from prompt_playground.actors import (
    Actor,
    actor_from_claims,
    as_actor,
    local_actor,
    may_promote,
    promote_refusal,
)


def test_the_signed_in_user_is_known_by_email_with_name_and_groups() -> None:
    actor = actor_from_claims(
        {"sub": "u1", "email": "ana@example.com", "name": "Ana", "groups": ["qa", "ml"]}
    )
    assert (str(actor), actor.describe(), actor.groups) == (
        "ana@example.com (app)",
        "Ana <ana@example.com>",
        ("qa", "ml"),
    )
    assert actor.signed_in


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"sub": "u1", "preferred_username": "ana"}, "ana"),
        ({"sub": "u1", "email": "  "}, "u1"),
        ({}, "unknown"),
    ],
)
def test_without_an_email_the_user_is_known_by_username_or_subject(
    claims: dict[str, object], expected: str
) -> None:
    assert actor_from_claims(claims).id == expected


def test_a_comma_separated_groups_claim_is_split() -> None:
    assert actor_from_claims({"sub": "x", "groups": "a, b"}).groups == ("a", "b")


def test_the_cli_actor_is_the_configured_name_or_the_os_user() -> None:
    assert str(local_actor("cli", "ci-bot")) == "ci-bot (cli)"
    assert local_actor("cli", "  ").id  # blank → the OS user, never empty


def test_an_actor_given_as_text_keeps_its_entry_point() -> None:
    assert as_actor("ana (cli)") == Actor(id="ana", via="cli")
    assert as_actor("ana") == Actor(id="ana")


def test_no_promoters_means_everyone_may_promote() -> None:
    assert may_promote(Actor(id="anyone"), [])


def test_promoters_match_emails_or_groups_ignoring_case() -> None:
    promoters = ["Ana@Example.com", "Release-Managers"]
    assert may_promote(Actor(id="ana@example.com"), promoters)
    assert may_promote(Actor(id="bo@example.com", groups=("release-managers",)), promoters)
    assert not may_promote(Actor(id="bo@example.com", groups=("qa",)), promoters)


def test_the_refusal_names_the_label_the_actor_and_the_setting() -> None:
    bo = Actor(id="bo@example.com", groups=("qa",))
    refusal = promote_refusal(
        bo, "production", protected_labels=["production"], promoters=["ana@example.com"]
    )
    assert refusal is not None
    assert "'production'" in refusal
    assert "bo@example.com (groups: qa)" in refusal
    assert "PLAYGROUND_PROMOTERS" in refusal
    assert (
        promote_refusal(
            bo, "staging", protected_labels=["production"], promoters=["ana@example.com"]
        )
        is None
    )
