"""Domain types that travel through a run: samples in, variants, results out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One row of a samples file.

    ``id`` is the file's ``id`` column when present, else the 1-based data row number.
    ``variables`` maps prompt variables to values; ``messages`` is a multi-turn chat taken from
    a ``messages`` column (a JSON list of ``{role, content}``); ``expected`` holds the
    ``expected_<field>`` columns by field name. A row that cannot be used keeps its ``error``
    (it is never dropped).
    """

    id: str
    row: int
    variables: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, str]] | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


DRAFT_PREFIX = "draft:"


@dataclass(frozen=True)
class Variant:
    """A prompt version chosen by label, by number or an unsaved draft (exactly one of them)."""

    label: str | None = None
    version: int | None = None
    draft: str | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.label, self.version, self.draft)) != 1:
            raise ValueError("A variant is one of a label, a version or a draft")

    @property
    def key(self) -> str:
        """The variant's name in results and exports: ``production``, ``v3`` or ``draft:x``."""
        if self.draft is not None:
            return DRAFT_PREFIX + self.draft
        return self.label if self.label is not None else f"v{self.version}"

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``production`` → label; ``v3`` or ``3`` → version 3; ``draft:x`` → draft x."""
        stripped = text.strip()
        if stripped.startswith(DRAFT_PREFIX):
            return cls(draft=stripped[len(DRAFT_PREFIX) :].strip())
        digits = stripped[1:] if stripped[:1] in {"v", "V"} else stripped
        if digits.isdigit():
            return cls(version=int(digits))
        return cls(label=stripped)


@dataclass
class Result:
    """The outcome of one sample through one variant (one of its repeats). A failed call is a
    result with an error."""

    run_id: str
    sample_id: str
    variant: str
    prompt_name: str
    prompt_version: int | None
    output: dict[str, Any] | None = None
    raw_output: str | None = None
    error: str | None = None
    attempts: int = 0
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    trace_id: str | None = None
    trace_url: str | None = None
    expected: dict[str, Any] = field(default_factory=dict)
    repeat: int = 1  # 1..N when each (sample, variant) was asked N times

    @property
    def ok(self) -> bool:
        return self.error is None and self.output is not None
