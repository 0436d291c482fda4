"""Who may promote: ``PLAYGROUND_PROMOTERS`` (emails or OIDC groups) guards the protected
labels in the use case itself, so the app, the CLI and a draft saved with labels all obey it;
the label history names who moved a label. Real SDK, real local-langfuse, real CLI process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from local_langfuse import LocalLangfuseServer
from prompt_playground import comparisons
from prompt_playground.actors import Actor, NotAPromoterError
from prompt_playground.bootstrap import Services, build_services
from prompt_playground.drafts import Draft
from prompt_playground.models import Variant
from prompt_playground.settings import Settings
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, cli_command

SCHEMA = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
ALICE = Actor(id="alice@example.com", via="app", signed_in=True)
BOB = Actor(id="bob@example.com", via="app", signed_in=True)
CAROL = Actor(id="carol@example.com", via="app", groups=("release-managers",), signed_in=True)


@pytest.fixture
def services(lf_server: LocalLangfuseServer, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        langfuse_base_url=lf_server.base_url,
        langfuse_public_key=PUBLIC_KEY,
        langfuse_secret_key=SecretStr(SECRET_KEY),
        openai_base_url="http://127.0.0.1:9/v1",
        openai_api_key=SecretStr("sk-unused"),
        data_dir=tmp_path / "data",
        promoters=["Alice@example.com", "release-managers"],
        seed_examples=False,
    )
    built = build_services(settings)
    yield built
    built.close()


def _prompt(services: Services, name: str, versions: int = 2) -> None:
    for n in range(versions):
        services.prompts.create_version(
            name,
            type="text",
            prompt=f"v{n + 1}: {{{{text}}}}",
            config={"response_schema": SCHEMA},
            labels=["production"] if n == 0 else [],
        )


def _holder(services: Services, name: str, label: str = "production") -> int:
    return services.prompts.get(name, Variant(label=label)).version


def test_someone_not_listed_cannot_move_a_protected_label_and_nothing_moves(
    services: Services, unique: str
) -> None:
    name = f"guard-{unique}"
    _prompt(services, name)
    refusal = comparisons.promotion_refusal(services, label="production", actor=BOB)
    assert refusal is not None
    assert "bob@example.com" in refusal
    assert "PLAYGROUND_PROMOTERS" in refusal
    with pytest.raises(NotAPromoterError, match="protected label 'production'"):
        comparisons.promote(services, prompt=name, version=2, label="production", actor=BOB)
    assert _holder(services, name) == 1
    assert comparisons.history(services, name) == []


def test_an_unprotected_label_is_anyones_to_move(services: Services, unique: str) -> None:
    name = f"staging-{unique}"
    _prompt(services, name)
    moved = comparisons.promote(services, prompt=name, version=2, label="staging", actor=BOB)
    assert moved.changed
    [move] = comparisons.history(services, name)
    assert (move.label, move.actor) == ("staging", "bob@example.com (app)")


def test_a_listed_email_or_a_listed_group_may_promote_and_the_history_names_them(
    services: Services, unique: str
) -> None:
    name = f"promoters-{unique}"
    _prompt(services, name, versions=3)
    assert comparisons.promotion_refusal(services, label="production", actor=ALICE) is None
    comparisons.promote(services, prompt=name, version=2, label="production", actor=ALICE)
    comparisons.promote(services, prompt=name, version=3, label="production", actor=CAROL)
    assert _holder(services, name) == 3
    newest, oldest = comparisons.history(services, name)
    assert (oldest.to_version, oldest.actor) == (2, "alice@example.com (app)")
    assert (newest.to_version, newest.actor) == (3, "carol@example.com (app)")


def test_saving_a_draft_with_a_protected_label_is_refused_before_a_version_exists(
    services: Services, unique: str
) -> None:
    name = f"draft-guard-{unique}"
    _prompt(services, name, versions=1)
    draft = Draft(
        name="new",
        prompt_name=name,
        type="text",
        prompt="v2: {{text}}",
        config={"response_schema": SCHEMA},
        base_version=1,
    )
    with pytest.raises(NotAPromoterError, match="Not saved"):
        comparisons.save_draft(services, draft, labels=["production"], actor=BOB)
    assert [v.version for v in services.prompts.versions(name)] == [1]
    saved = comparisons.save_draft(services, draft, labels=["production"], actor=CAROL)
    assert (saved.version, _holder(services, name)) == (2, 2)


def test_the_cli_checks_its_actor_the_same_way(
    lf_server: LocalLangfuseServer, tmp_path: Path, unique: str
) -> None:
    name = f"cli-guard-{unique}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_"))
    }
    env.update(
        LANGFUSE_BASE_URL=lf_server.base_url,
        LANGFUSE_PUBLIC_KEY=PUBLIC_KEY,
        LANGFUSE_SECRET_KEY=SECRET_KEY,
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        OPENAI_API_KEY="sk-unused",
        PLAYGROUND_DATA_DIR=str(tmp_path / "cli-data"),
        PLAYGROUND_PROMOTERS="ci-release",
    )
    spec = tmp_path / "p.yaml"
    spec.write_text(
        f"name: {name}\ntype: text\nversions:\n"
        "  - prompt: 'v1: {{text}}'\n    labels: [production]\n"
        "    config: {response_schema: {type: object, properties: {x: {type: string}}}}\n"
        "  - prompt: 'v2: {{text}}'\n"
        "    config: {response_schema: {type: object, properties: {x: {type: string}}}}\n",
        encoding="utf-8",
    )

    def cli(*args: str, actor: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command(), *args],
            env={**env, "PLAYGROUND_ACTOR": actor},
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("sync", str(spec), actor="dev").returncode == 0
    promote = ("promote", name, "--version", "2", "--label", "production")
    refused = cli(*promote, actor="dev")
    assert refused.returncode == 1
    assert "dev is not listed in PLAYGROUND_PROMOTERS" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr
    allowed = cli(*promote, actor="ci-release")
    assert allowed.returncode == 0, allowed.stderr
    history = cli("history", name, actor="dev")
    assert "ci-release (cli)" in history.stdout
    assert "dev (cli)" not in history.stdout
