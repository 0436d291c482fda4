"""How fast and how big the embedded local model is: start-up, prompt and generation tokens/s,
latency per typed extraction (p50/p95), and the peak memory of the llama.cpp process.

Run: ``.venv/bin/python -m bench.local_model [--requests 10] [--concurrency 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any, Literal

import instructor
import openai
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from prompt_playground.local_model import (
    DEFAULT_CTX_SIZE,
    DEFAULT_PARALLEL,
    LocalModelServer,
    resolve_model_path,
)

Topic = Annotated[str, StringConstraints(min_length=1, max_length=30)]


class ChatSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sentiment: Literal["positive", "neutral", "negative"]
    summary: str = Field(max_length=120)
    topics: list[Topic] = Field(default_factory=list, max_length=3)


SYSTEM = (
    "Extract the customer's sentiment, a one-sentence summary and up to 3 short topics "
    "from the chat. Answer in JSON."
)
CHATS = [
    "Customer: My order arrived two weeks late and the box was crushed. I want a refund.\n"
    "Agent: Sorry about that, I have issued a full refund.",
    "Customer: Thanks so much, the new headphones sound amazing and shipping was fast!",
    "Customer: How do I change the email address on my account?\n"
    "Agent: Go to Settings, then Profile, and edit the email field.",
    "Customer: The app crashes every time I open the camera screen on my Pixel 8.",
    "Customer: Can I pay by bank transfer? Agent: Yes, choose 'Invoice' at checkout.",
]


def _proc_status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _extract(
    structured: Any, model: str, chat: str, *, cache_prompt: bool
) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    _, completion = structured.chat.completions.create_with_completion(
        model=model,
        response_model=ChatSummary,
        max_retries=0,
        max_tokens=150,
        temperature=0,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": chat}],
        extra_body={"cache_prompt": cache_prompt},
    )
    elapsed = time.perf_counter() - started
    timings = (completion.model_extra or {}).get("timings") or {}
    return elapsed, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="A GGUF file (default: SmolLM2)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--threads", type=int, default=None, help="default: half the cores")
    args = parser.parse_args()

    started = time.perf_counter()
    server = LocalModelServer(resolve_model_path(args.model), threads=args.threads).start()
    startup = time.perf_counter() - started
    try:
        assert server.pid is not None
        client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
        structured = instructor.from_openai(client, mode=instructor.Mode.JSON_SCHEMA)
        first, _ = _extract(structured, server.model_id, CHATS[0], cache_prompt=False)

        latencies: list[float] = []
        prompt_n = prompt_ms = predicted_n = predicted_ms = 0.0
        for i in range(args.requests):
            # No prompt cache, so the prompt figures are real prompt processing.
            chat = CHATS[i % len(CHATS)]
            elapsed, timings = _extract(structured, server.model_id, chat, cache_prompt=False)
            latencies.append(elapsed)
            prompt_n += timings.get("prompt_n", 0)
            prompt_ms += timings.get("prompt_ms", 0.0)
            predicted_n += timings.get("predicted_n", 0)
            predicted_ms += timings.get("predicted_ms", 0.0)

        chats = [CHATS[i % len(CHATS)] for i in range(args.requests)]
        batch_started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(
                pool.map(
                    lambda chat: _extract(structured, server.model_id, chat, cache_prompt=True),
                    chats,
                )
            )
        batch_seconds = time.perf_counter() - batch_started

        peak_kib = _proc_status_kib(server.pid, "VmHWM")
        rss_kib = _proc_status_kib(server.pid, "VmRSS")
    finally:
        server.stop()

    rows = [
        ("model", f"{server.model_name}, {server.model_path.stat().st_size / 2**20:.0f} MiB"),
        (
            "settings",
            f"ctx {DEFAULT_CTX_SIZE}, {DEFAULT_PARALLEL} slots, {server.threads} threads",
        ),
        ("start-up (spawn → /health 200)", f"{startup:.2f} s"),
        ("first request (cold)", f"{first * 1000:.0f} ms"),
        ("prompt processing", f"{prompt_n / (prompt_ms / 1000):.0f} tokens/s"),
        ("generation", f"{predicted_n / (predicted_ms / 1000):.0f} tokens/s"),
        (
            "tokens per request (mean)",
            f"{prompt_n / args.requests:.0f} prompt, {predicted_n / args.requests:.0f} generated",
        ),
        (
            f"latency p50 ({args.requests} sequential)",
            f"{statistics.median(latencies) * 1000:.0f} ms",
        ),
        (
            f"latency p95 ({args.requests} sequential)",
            f"{_percentile(latencies, 0.95) * 1000:.0f} ms",
        ),
        (
            f"throughput ({args.requests} at concurrency {args.concurrency})",
            f"{args.requests / batch_seconds:.1f} requests/s",
        ),
        (
            "llama.cpp process RSS peak / end",
            f"{(peak_kib or 0) / 1024:.0f} / {(rss_kib or 0) / 1024:.0f} MiB",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'local model benchmark':<{width}}  value")
    print(f"{'-' * width}  {'-' * 36}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
