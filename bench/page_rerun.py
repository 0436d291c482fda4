"""Time a Compare page rerun with a large comparison loaded (5,000 samples × 2 variants) against
the same page with 50 samples. The runs are inserted straight into a RunStore; the app runs
under AppTest with the embedded local-langfuse and a (never called) OpenAI-compatible URL.

    .venv/bin/python -m bench.page_rerun
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative", "mixed"]},
        "topics": {"type": "array", "items": {"type": "string"}},
        "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
        "requires_follow_up": {"type": "boolean"},
    },
}


def insert_run(store: object, n: int) -> str:
    from prompt_playground.models import Result, Sample
    from prompt_playground.runstore import RunRecord, RunStore

    assert isinstance(store, RunStore)
    rng = random.Random(n)
    run_id = f"run-bench-{n}"
    variants = [("production", 1), ("staging", 2)]
    store.create_run(
        RunRecord(
            id=run_id,
            prompt_name="chat-extract-feedback",
            variants=[v for v, _ in variants],
            total=n * 2,
            status="completed",
            meta={"versions": dict(variants), "schemas": {v: SCHEMA for v, _ in variants}},
        ),
        [Sample(id=f"s{i:05d}", row=i + 1, variables={"chat_json": "[]"}) for i in range(n)],
    )
    results = []
    for i in range(n):
        for variant, version in variants:
            error = "HTTP 500 from the endpoint" if rng.random() < 0.02 else None
            output = None
            if error is None:
                output = {
                    "sentiment": rng.choice(["positive", "neutral", "negative"]),
                    "topics": rng.sample(["delivery", "refund", "login", "billing"], 2),
                    "urgency": rng.choice(["low", "medium", "high"]),
                    "requires_follow_up": rng.random() < 0.5,
                }
            results.append(
                Result(
                    run_id,
                    f"s{i:05d}",
                    variant,
                    "chat-extract-feedback",
                    version,
                    output=output,
                    error=error,
                    attempts=1,
                    latency_ms=rng.uniform(200, 900),
                    input_tokens=300,
                    output_tokens=40,
                    expected={"sentiment": "negative"},
                )
            )
    store.add_results(results)
    return run_id


def time_page(run_id: str, reruns: int = 5) -> tuple[float, float]:
    """(first render, median of later reruns) in seconds."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["compare.run_id"] = run_id
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    assert not at.exception, [e.value for e in at.exception]
    times = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    return first, statistics.median(times)


def main() -> None:
    data_dir = tempfile.mkdtemp(prefix="bench-page-")
    os.environ.update(
        {
            "PLAYGROUND_DATA_DIR": data_dir,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_API_KEY": "sk-bench",
            "PLAYGROUND_MODEL": "bench-model",
        }
    )
    for key in ("LANGFUSE_BASE_URL", "LANGFUSE_HOST", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        os.environ.pop(key, None)
    from prompt_playground.ui.services import _services, reset_services

    services = _services()
    try:
        small = insert_run(services.store, 50)
        large = insert_run(services.store, 5000)
        time_page(small, reruns=1)  # warm imports and the services
        for label, run_id in (("50 samples", small), ("5,000 samples", large)):
            first, rerun = time_page(run_id)
            print(
                f"Compare page, {label} × 2 variants: first render {first * 1000:.0f} ms, "
                f"rerun (median of 5) {rerun * 1000:.0f} ms"
            )
    finally:
        reset_services()


if __name__ == "__main__":
    main()
