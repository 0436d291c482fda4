"""One base error whose message a person can act on; adapters translate third-party errors."""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base of every error the pages and the CLI show to a person.

    ``message`` says what went wrong and what to do; ``details`` is optional extra text
    (shown in an expander), never containing secrets.
    """

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ConfigurationError(PlaygroundError):
    """Settings are missing or inconsistent."""


class PromptNotFoundError(PlaygroundError):
    """No prompt, label or version by that name."""


class PromptStoreError(PlaygroundError):
    """Langfuse could not be reached or refused a request."""


class PromotionError(PlaygroundError):
    """A label cannot be moved (e.g. ``latest``)."""


class SchemaError(PlaygroundError):
    """A response schema or response model cannot be built."""


class SamplesError(PlaygroundError):
    """A samples file cannot be read, or fails the pre-flight check."""


class LLMError(PlaygroundError):
    """The model endpoint failed for one call."""


class RunStoreError(PlaygroundError):
    """The run store cannot read or write a run."""
