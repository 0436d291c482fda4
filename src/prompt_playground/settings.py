"""All configuration in one model, read from the environment by the composition root only.

Standard names users already have are accepted (``LANGFUSE_*``, ``OPENAI_*``); the rest use the
``PLAYGROUND_`` prefix. With no Langfuse URL the embedded local-langfuse is used; with neither an
OpenAI key nor base URL the embedded local model is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from prompt_playground.actors import parse_promoters
from prompt_playground.db import is_database_url
from prompt_playground.policy import PromotionPolicy
from prompt_playground.samples import SampleLimits

InstructorModeName = Literal["tools", "json_schema", "json", "md_json"]

# List prices (USD per million input, output tokens) at the time of writing; override with
# PLAYGROUND_PRICES when they change or for other models.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


class Settings(BaseSettings):
    """Prompt Playground settings. Every field is documented; secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(
        env_prefix="PLAYGROUND_", extra="ignore", populate_by_name=True, frozen=True
    )

    langfuse_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_BASE_URL", "LANGFUSE_HOST", "langfuse_base_url"),
        description="Langfuse server URL (Cloud or self-hosted). Unset: the embedded local server.",
    )
    langfuse_public_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_PUBLIC_KEY", "langfuse_public_key"),
        description="Langfuse public key (pk-lf-...). Embedded default: pk-lf-local.",
    )
    langfuse_secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LANGFUSE_SECRET_KEY", "langfuse_secret_key"),
        description="Langfuse secret key (sk-lf-...). Embedded default: sk-lf-local.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"),
        description="Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, LM Studio, llama.cpp).",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"),
        description="API key for the LLM endpoint. With neither key nor base URL: the local model.",
    )
    model: str | None = Field(
        default=None,
        description="Default model when the prompt config names none "
        "(gpt-4o-mini on OpenAI; the local model's name on the embedded default).",
    )
    instructor_mode: InstructorModeName | None = Field(
        default=None,
        description="How structured output is requested: tools (OpenAI), json_schema "
        "(llama.cpp, vLLM, LM Studio), json or md_json. Unset: chosen from the endpoint; "
        "a prompt's config.instructor_mode overrides it.",
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="LLM calls in flight at once.")
    timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one LLM call, seconds.")
    http_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of an LLM call on 429/5xx/timeouts."
    )
    validation_retries: int = Field(
        default=2, ge=0, le=10, description="Re-asks when the output fails schema validation."
    )
    data_dir: Path = Field(
        default=Path("data"), description="Where the run store and the embedded Langfuse live."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="Where runs, drafts and label history live: unset, SQLite files in the "
        "data directory; a postgresql:// URL, one database shared by every app replica and CLI "
        "run (see 'Deploy for a team').",
    )
    local_model_path: Path | None = Field(
        default=None,
        description="A GGUF file for the embedded local model (default: SmolLM2-135M).",
    )
    allowed_model_modules: list[str] = Field(
        default_factory=lambda: ["prompt_playground.examples"],
        description="Modules that config.response_model may import classes from (nothing else).",
    )
    protected_labels: list[str] = Field(
        default_factory=lambda: ["production"],
        description="Labels whose promotion must be confirmed by typing the label.",
    )
    promoters: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Who may move a protected label: emails or OIDC group names (the ID "
        "token's `groups` claim), comma-separated. Unset: everyone may.",
    )
    actor: str | None = Field(
        default=None,
        description="Who the CLI (and the app without sign-in) records on runs, drafts and "
        "label moves. Unset: the OS user.",
    )
    max_rows: int = Field(default=10_000, ge=1, description="Most rows in one samples file.")
    max_file_mb: float = Field(
        default=20.0,
        gt=0,
        description="Largest samples file, MB (also the app's upload limit, rounded up).",
    )
    prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD per million input and output tokens, by model-name prefix, for the "
        "cost column (JSON). Unknown models have no cost; the local model costs nothing.",
    )
    promotion_policy: PromotionPolicy = Field(
        default_factory=PromotionPolicy,
        description="The promotion gate's rules (JSON; keys left out keep the defaults shown). "
        "See the README's 'Promotion gate'.",
    )
    seed_examples: bool = Field(
        default=True,
        description="Create the example prompt on the embedded Langfuse at first start.",
    )

    @field_validator("promoters", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> list[str]:
        return parse_promoters(value)

    @field_validator("database_url")
    @classmethod
    def _a_postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        if not is_database_url(url):
            raise ValueError(
                "PLAYGROUND_DATABASE_URL must start with postgresql:// (or postgresql+psycopg://);"
                " leave it unset for SQLite files in the data directory"
            )
        return SecretStr(url)

    @field_validator("langfuse_base_url", "openai_base_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip().rstrip("/") or None if value else None

    @property
    def embedded_langfuse(self) -> bool:
        return self.langfuse_base_url is None

    @property
    def embedded_model(self) -> bool:
        return self.openai_base_url is None and self.openai_api_key is None

    @property
    def sample_limits(self) -> SampleLimits:
        """The size limits every samples file is read with."""
        return SampleLimits(max_bytes=int(self.max_file_mb * 1024 * 1024), max_rows=self.max_rows)

    @property
    def run_store_path(self) -> Path:
        return self.data_dir / "runs.sqlite3"

    @property
    def run_store_target(self) -> Path | str:
        """The run store: the PostgreSQL URL when one is set, else the SQLite file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.run_store_path

    @property
    def history_target(self) -> Path | str:
        """The label history: the PostgreSQL URL when one is set, else its SQLite file."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return self.data_dir / "label-history.sqlite3"

    @property
    def local_langfuse_db_path(self) -> Path:
        return self.data_dir / "local-langfuse.sqlite3"


def settings_table() -> str:
    """The README's configuration table, generated from the model (a test keeps them equal)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names = [str(c) for c in alias.choices if str(c).isupper()]
        else:
            names = [f"PLAYGROUND_{name.upper()}"]
        default: object = info.default
        if info.default_factory is not None:
            default = info.default_factory()  # type: ignore[call-arg]
        shown = "unset" if default is None else f"`{default}`"
        rows.append(f"| {' / '.join(f'`{n}`' for n in names)} | {shown} | {info.description} |")
    return "\n".join(rows)
