"""Settings: the env names people already have, embedded defaults, secrets kept out of text."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from prompt_playground.settings import Settings

ENV_NAMES = (
    "LANGFUSE_BASE_URL",
    "LANGFUSE_HOST",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "PLAYGROUND_MODEL",
    "PLAYGROUND_CONCURRENCY",
    "PLAYGROUND_DATA_DIR",
    "PLAYGROUND_INSTRUCTOR_MODE",
    "PLAYGROUND_TIMEOUT_S",
    "PLAYGROUND_PROTECTED_LABELS",
    "PLAYGROUND_PROMOTERS",
    "PLAYGROUND_ACTOR",
    "PLAYGROUND_DATABASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_no_environment_means_both_embedded_services() -> None:
    settings = Settings()
    assert settings.embedded_langfuse
    assert settings.embedded_model
    assert settings.run_store_path == Path("data") / "runs.sqlite3"


def test_langfuse_base_url_disables_the_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://cloud.langfuse.com/")
    settings = Settings()
    assert settings.langfuse_base_url == "https://cloud.langfuse.com"
    assert not settings.embedded_langfuse


def test_legacy_langfuse_host_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_HOST", "http://langfuse.internal:3000")
    assert Settings().langfuse_base_url == "http://langfuse.internal:3000"


def test_blank_urls_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "   ")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    settings = Settings()
    assert settings.embedded_langfuse
    assert settings.embedded_model


@pytest.mark.parametrize(
    ("name", "value"),
    [("OPENAI_API_KEY", "sk-live-123"), ("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")],
)
def test_either_openai_variable_disables_the_local_model(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    settings = Settings()
    assert not settings.embedded_model
    assert settings.embedded_langfuse


def test_playground_prefixed_names_set_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLAYGROUND_MODEL", "gpt-4.1-mini")
    monkeypatch.setenv("PLAYGROUND_CONCURRENCY", "3")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PLAYGROUND_INSTRUCTOR_MODE", "json_schema")
    monkeypatch.setenv("PLAYGROUND_PROTECTED_LABELS", '["production", "prod-eu"]')
    settings = Settings()
    assert settings.model == "gpt-4.1-mini"
    assert settings.concurrency == 3
    assert settings.data_dir == tmp_path
    assert settings.run_store_path == tmp_path / "runs.sqlite3"
    assert settings.instructor_mode == "json_schema"
    assert settings.protected_labels == ["production", "prod-eu"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PLAYGROUND_CONCURRENCY", "0"),
        ("PLAYGROUND_TIMEOUT_S", "-1"),
        ("PLAYGROUND_INSTRUCTOR_MODE", "telepathy"),
    ],
)
def test_out_of_range_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://cloud.langfuse.com")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-visible")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-very-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-very-secret")
    settings = Settings()
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert "very-secret" not in text
    assert "pk-lf-visible" in repr(settings)
    assert settings.langfuse_secret_key is not None
    assert settings.langfuse_secret_key.get_secret_value() == "sk-lf-very-secret"
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-openai-very-secret"


def test_every_field_is_described() -> None:
    undocumented = [n for n, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


def test_settings_can_be_built_in_code_without_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings = Settings(openai_api_key=None, langfuse_base_url="http://127.0.0.1:1")
    assert settings.openai_api_key is None
    assert not settings.embedded_langfuse


def test_promoters_are_a_comma_separated_list_and_unset_means_everyone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().promoters == []
    monkeypatch.setenv("PLAYGROUND_PROMOTERS", " alice@example.com, release-managers ,")
    monkeypatch.setenv("PLAYGROUND_ACTOR", "ci-bot")
    settings = Settings()
    assert settings.promoters == ["alice@example.com", "release-managers"]
    assert settings.actor == "ci-bot"


def test_without_a_database_url_both_stores_are_sqlite_files_in_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.run_store_target == tmp_path / "runs.sqlite3"
    assert settings.history_target == tmp_path / "label-history.sqlite3"


def test_a_database_url_puts_both_stores_in_it_and_stays_out_of_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://team:s3cret-db@db.internal:5432/playground"
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", url)
    settings = Settings()
    assert settings.run_store_target == settings.history_target == url
    assert "s3cret-db" not in repr(settings)
    assert "s3cret-db" not in str(settings.model_dump())


def test_a_database_url_that_is_not_postgresql_is_refused_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", "mysql://u:p@h/db")
    with pytest.raises(ValidationError, match="must start with postgresql://"):
        Settings()
    monkeypatch.setenv("PLAYGROUND_DATABASE_URL", "  ")
    assert Settings().database_url is None
