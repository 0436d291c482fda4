"""Prompt Playground: test Langfuse prompt versions on sample chats with typed outputs."""

__version__ = "0.1.0"
