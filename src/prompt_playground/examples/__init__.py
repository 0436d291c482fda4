"""The shipped example: a chat prompt that extracts feedback, its response models and sample chats.

Package data is read lazily through ``importlib.resources`` (nothing happens at import time).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from prompt_playground.errors import PlaygroundError

__all__ = [
    "EXAMPLE_PROMPT_FILE",
    "EXAMPLE_SAMPLES_FILE",
    "example_prompt",
    "example_samples_bytes",
    "read_example",
]

#: The example prompt: ``name``, ``type``, ``tags`` and ``versions`` (oldest first).
EXAMPLE_PROMPT_FILE = "chat_extract_feedback.yaml"
#: ~20 customer-support chats for the example prompt (variable ``chat_json``).
EXAMPLE_SAMPLES_FILE = "sample_chats.csv"


def read_example(filename: str) -> bytes:
    """The bytes of one file shipped in this package."""
    resource = resources.files(__name__).joinpath(filename)
    if not resource.is_file():
        raise PlaygroundError(
            f"The example file '{filename}' is missing from the installed package."
        )
    return resource.read_bytes()


def example_prompt() -> dict[str, Any]:
    """The example prompt definition, parsed from ``chat_extract_feedback.yaml``."""
    loaded = yaml.safe_load(read_example(EXAMPLE_PROMPT_FILE).decode("utf-8"))
    if not isinstance(loaded, dict):
        raise PlaygroundError(f"The example file '{EXAMPLE_PROMPT_FILE}' is not a mapping.")
    return loaded


def example_samples_bytes() -> bytes:
    """The example samples CSV, ready for ``samples.load_samples``."""
    return read_example(EXAMPLE_SAMPLES_FILE)
