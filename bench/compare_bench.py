"""Time compare(), side_by_side() and the exports on 10,000 samples x 3 variants.

Run: .venv/bin/python bench/compare_bench.py
"""

from __future__ import annotations

import io
import time
from typing import Any

from prompt_playground.compare import accuracy_scores, compare
from prompt_playground.compare_views import highlight_mask, side_by_side
from prompt_playground.export import write_export
from prompt_playground.models import Result

SCHEMA: dict[str, Any] = {
    "properties": {
        "sentiment": {"enum": ["positive", "negative", "neutral"]},
        "urgent": {"type": "boolean"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    }
}
VARIANTS = ["production", "v2", "v3"]


def make_results(n: int) -> list[Result]:
    results = []
    for i in range(n):
        expected = {"sentiment": "positive", "tags": "billing;refund", "urgent": "false"}
        for j, variant in enumerate(VARIANTS):
            failed = (i + j) % 97 == 0
            output = {
                "sentiment": "negative" if (i * (j + 1)) % 7 == 0 else "positive",
                "urgent": i % 5 == 0,
                "score": (i % 100) / 100,
                "tags": ["billing", "refund"][: 1 + (i + j) % 2],
                "summary": f"Customer {i} writes about billing, variant {j % 2}",
            }
            results.append(
                Result(
                    run_id="bench",
                    sample_id=str(i),
                    variant=variant,
                    prompt_name="triage",
                    prompt_version=j + 1,
                    output=None if failed else output,
                    error="validation failed" if failed else None,
                    attempts=1,
                    latency_ms=100.0 + (i % 50),
                    input_tokens=200,
                    output_tokens=40,
                    cost_usd=0.0001,
                    trace_id=f"t-{i}-{j}",
                    expected=expected,
                )
            )
    return results


def timed(label: str, fn: Any) -> Any:
    start = time.perf_counter()
    value = fn()
    print(f"{label:<34} {time.perf_counter() - start:7.3f} s")
    return value


def main() -> None:
    results = make_results(10_000)
    fields = ["sentiment", "urgent", "score", "tags", "summary"]
    print(f"{len(results):,} results ({len(VARIANTS)} variants x 10,000 samples)")
    comparison = timed("compare", lambda: compare(results, SCHEMA, VARIANTS))
    timed("accuracy_scores", lambda: accuracy_scores(results, SCHEMA))
    table = timed("side_by_side", lambda: side_by_side(results, comparison, fields))
    timed("highlight_mask", lambda: highlight_mask(table, comparison))
    for fmt in ("csv", "jsonl", "parquet"):
        for shape in ("long", "wide"):
            timed(
                f"write_export {fmt}/{shape}",
                lambda fmt=fmt, shape=shape: write_export(
                    results, io.BytesIO(), fmt=fmt, shape=shape, fields=fields
                ),
            )


if __name__ == "__main__":
    main()
