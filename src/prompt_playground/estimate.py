"""What a comparison will cost before it runs: calls, tokens, money and wall time.

Input tokens are counted by the endpoint's own tokenizer where it has one (llama.cpp's
``POST /tokenize``, which the embedded model serves), else estimated from the text's length and
marked "≈". Output tokens come from earlier runs of the same version (or draft content); without
any, the ``max_tokens`` bound is the upper end. Wall time comes from the concurrency and the
latencies this endpoint had in recent runs. Nothing here calls the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from prompt_playground.errors import PlaygroundError, SamplesError
from prompt_playground.llm import Endpoint
from prompt_playground.models import Sample
from prompt_playground.runner import PreparedVariant
from prompt_playground.runstore import RunStore

#: Characters per token when no tokenizer is at hand (OpenAI's rule of thumb for English).
CHARS_PER_TOKEN = 4.0
#: Tokens a chat template adds around each message (role markers); a rough allowance.
MESSAGE_OVERHEAD_TOKENS = 4
#: At most this many prompts per variant go to the tokenizer; the rest scale by length.
TOKENIZE_LIMIT = 100
#: How many recent runs are searched for output tokens and latencies.
HISTORY_RUNS = 50

Tokenizer = Callable[[str], int]


class CostLimitError(PlaygroundError):
    """The upper cost estimate is over the limit the person set; nothing was sent."""


@dataclass(frozen=True)
class VariantEstimate:
    key: str
    input_tokens: int
    output_low: int
    output_high: int | None  # None: no history and no max_tokens bound
    output_source: str
    cost_low: float | None
    cost_high: float | None


@dataclass(frozen=True)
class Estimate:
    """The pre-run estimate of one plan (totals over variants and repeats)."""

    calls: int
    repeats: int
    concurrency: int
    input_exact: bool
    variants: tuple[VariantEstimate, ...]
    latency_ms: float | None  # mean latency of this endpoint's recent calls
    latency_calls: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def input_tokens(self) -> int:
        return sum(v.input_tokens for v in self.variants)

    @property
    def output_low(self) -> int:
        return sum(v.output_low for v in self.variants)

    @property
    def output_high(self) -> int | None:
        highs = [v.output_high for v in self.variants]
        return None if any(h is None for h in highs) else sum(h or 0 for h in highs)

    @property
    def cost_low(self) -> float | None:
        costs = [v.cost_low for v in self.variants]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def cost_high(self) -> float | None:
        costs = [v.cost_high for v in self.variants]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def wall_s(self) -> float | None:
        if self.latency_ms is None:
            return None
        return math.ceil(self.calls / max(1, self.concurrency)) * self.latency_ms / 1000

    def check_cost(self, max_cost_usd: float | None) -> None:
        """Raise :class:`CostLimitError` when the upper estimate exceeds ``max_cost_usd``."""
        if max_cost_usd is None:
            return
        high = self.cost_high
        if high is None:
            raise CostLimitError(
                f"Refusing to start: a cost limit of ${max_cost_usd:.2f} is set, but the cost "
                "cannot be bounded (no price for the model, or no max_tokens and no earlier "
                "runs). Set max_tokens in the prompt config or add the model to PLAYGROUND_PRICES."
            )
        if high > max_cost_usd:
            raise CostLimitError(
                f"Refusing to start: the estimate is up to ${high:.4f}, over the limit of "
                f"${max_cost_usd:.4f} ({self.calls} calls). Use fewer samples, variants or "
                "repeats, or raise the limit."
            )

    def lines(self) -> list[str]:
        """The estimate as short lines (the CLI prints them; the Compare page shows them)."""
        approx = "" if self.input_exact else "≈"
        repeats = f" (× {self.repeats} repeats)" if self.repeats > 1 else ""
        high = self.output_high
        out = f"{self.output_low:,}–{high:,}" if high is not None else f"{self.output_low:,}–?"
        lines = [
            f"Calls: {self.calls:,}{repeats}",
            f"Input tokens: {approx}{self.input_tokens:,}"
            + ("" if self.input_exact else " (estimated from length; no tokenizer)"),
            f"Output tokens: {out}",
            f"Cost: {_money_range(self.cost_low, self.cost_high)}",
            f"Wall time: {_duration(self.wall_s)}"
            + (
                f" (concurrency {self.concurrency}, mean latency {self.latency_ms:.0f} ms over "
                f"{self.latency_calls} recent calls)"
                if self.latency_ms is not None
                else " (no earlier calls on this endpoint to time)"
            ),
        ]
        lines += [f"  {v.key}: output {v.output_source}" for v in self.variants]
        lines += list(self.notes)
        return lines


def _money_range(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return "unknown (no price for this model; see PLAYGROUND_PRICES)"
    low_text = f"${low:.4f}" if low is not None else "?"
    high_text = f"${high:.4f}" if high is not None else "? (no max_tokens bound)"
    return f"{low_text} – {high_text}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"≈{seconds:.0f} s"
    return f"≈{seconds / 60:.1f} min"


# --------------------------------------------------------------------------- tokenizer


def llama_tokenizer(base_url: str | None, *, timeout_s: float = 2.0) -> Tokenizer | None:
    """A token counter over llama.cpp's ``POST /tokenize`` at the endpoint's root, or ``None``
    when the endpoint has none (not a llama.cpp server, unreachable, OpenAI itself)."""
    if base_url is None or "api.openai.com" in base_url:
        return None
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    url = urlunsplit((parts.scheme, parts.netloc, path + "/tokenize", "", ""))
    client = httpx.Client(timeout=timeout_s)

    def count(text: str) -> int:
        response = client.post(url, json={"content": text})
        response.raise_for_status()
        tokens = response.json().get("tokens")
        if not isinstance(tokens, list):
            raise ValueError("no 'tokens' list in the /tokenize answer")
        return len(tokens)

    try:
        count("probe")
    except (httpx.HTTPError, ValueError):
        client.close()
        return None
    return count


# --------------------------------------------------------------------------- estimate


@dataclass
class _History:
    output_tokens: dict[str, list[int]]  # by version key ("v3" or "hash:<content hash>")
    latencies: list[float]


def _history(store: RunStore, prompt_name: str, endpoint: str) -> _History:
    """Output tokens per version of ``prompt_name`` and latencies on ``endpoint``, from the
    recent runs in the store."""
    found = _History({}, [])
    for record in store.list_runs(HISTORY_RUNS):
        same_prompt = record.prompt_name == prompt_name
        same_endpoint = record.meta.get("endpoint") == endpoint
        if not (same_prompt or same_endpoint):
            continue
        versions = record.meta.get("versions") or {}
        drafts = record.meta.get("drafts") or {}
        for result in store.results(record.id):
            if same_endpoint and result.latency_ms is not None and result.error is None:
                found.latencies.append(result.latency_ms)
            if not same_prompt or result.output_tokens is None:
                continue
            version = versions.get(result.variant)
            draft = drafts.get(result.variant)
            if isinstance(version, int):
                key = f"v{version}"
            elif isinstance(draft, Mapping) and draft.get("content_hash"):
                key = f"hash:{draft['content_hash']}"
            else:
                continue
            found.output_tokens.setdefault(key, []).append(result.output_tokens)
    return found


def _version_key(variant: PreparedVariant) -> str:
    if variant.prompt.draft is not None:
        return f"hash:{variant.content_hash}"
    return f"v{variant.prompt.version}"


def _texts(variant: PreparedVariant, samples: Iterable[Sample]) -> list[tuple[str, int]]:
    """Each runnable sample's compiled prompt as one text, with its message count."""
    texts = []
    for sample in samples:
        if sample.error:
            continue
        try:
            messages = variant.prompt.compile(sample.variables, sample.messages)
        except SamplesError:
            continue
        texts.append(("\n".join(m.get("content", "") for m in messages), len(messages)))
    return texts


def _input_tokens(texts: Sequence[tuple[str, int]], tokenizer: Tokenizer | None) -> int:
    overhead = sum(n for _, n in texts) * MESSAGE_OVERHEAD_TOKENS
    chars = sum(len(t) for t, _ in texts)
    if tokenizer is None:
        return round(chars / CHARS_PER_TOKEN) + overhead
    counted = texts[:TOKENIZE_LIMIT]
    tokens = sum(tokenizer(t) for t, _ in counted)
    counted_chars = sum(len(t) for t, _ in counted)
    if len(counted) < len(texts) and counted_chars:
        tokens = round(tokens * chars / counted_chars)
    return tokens + overhead


def estimate(
    *,
    store: RunStore,
    endpoint: Endpoint,
    prompt_name: str,
    variants: Sequence[PreparedVariant],
    samples: Sequence[Sample],
    repeats: int,
    concurrency: int,
    tokenizer: Tokenizer | None,
) -> Estimate:
    """The pre-run estimate of running ``samples`` × ``variants`` × ``repeats`` on ``endpoint``."""
    history = _history(store, prompt_name, endpoint.display)
    runnable = sum(1 for s in samples if not s.error)
    notes: list[str] = []
    exact = tokenizer is not None
    per_variant = []
    for variant in variants:
        calls = runnable * repeats
        try:
            input_tokens = _input_tokens(_texts(variant, samples), tokenizer) * repeats
        except (httpx.HTTPError, ValueError):
            exact = False
            input_tokens = _input_tokens(_texts(variant, samples), None) * repeats
            notes.append("The endpoint's tokenizer failed midway; input tokens are estimated.")
        bound = variant.params.get("max_tokens") or variant.params.get("max_completion_tokens")
        seen = history.output_tokens.get(_version_key(variant), [])
        if seen:
            mean = sum(seen) / len(seen)
            low, high = round(mean * calls), max(seen) * calls
            if isinstance(bound, int):
                high = min(high, bound * calls)
            source = f"from {len(seen)} earlier calls of {variant.prompt.display}"
        elif isinstance(bound, int):
            low, high = 0, bound * calls
            source = f"no earlier runs; up to max_tokens {bound} per call"
        else:
            low, high = 0, None
            source = "no earlier runs and no max_tokens: no upper bound"
        model = str(variant.params.get("model") or endpoint.model)
        cost_low = endpoint.cost_usd(model, input_tokens, low)
        cost_high = endpoint.cost_usd(model, input_tokens, high) if high is not None else None
        if endpoint.local:
            cost_high = 0.0
        per_variant.append(
            VariantEstimate(variant.key, input_tokens, low, high, source, cost_low, cost_high)
        )
    latency = sum(history.latencies) / len(history.latencies) if history.latencies else None
    return Estimate(
        calls=len(samples) * len(variants) * repeats,
        repeats=repeats,
        concurrency=concurrency,
        input_exact=exact,
        variants=tuple(per_variant),
        latency_ms=latency,
        latency_calls=len(history.latencies),
        notes=tuple(notes),
    )
