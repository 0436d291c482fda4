"""Time the paired statistics on 10,000 samples × 3 variants × 5 fields (target < 1 s).

Named ``statistics_bench`` rather than ``statistics`` so that running it as a script never shadows
the standard library's ``statistics`` module (which scipy imports).

Run: .venv/bin/python -m bench.statistics_bench
"""

from __future__ import annotations

import itertools
import os
import random
import time
from typing import Any

from prompt_playground.compare import compare
from prompt_playground.models import Result
from prompt_playground.statistics import paired, tabulate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]},
        "urgent": {"type": "boolean"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "string"},
    },
}
VARIANTS = ["production", "v2", "v3"]
FIELDS = 5
TAGS = ["billing", "refund", "delivery", "login"]


def make_results(n: int, repeats: int = 1, seed: int = 1) -> list[Result]:
    """Each variant answers right with its own probability; 1 % of calls fail."""
    rnd = random.Random(seed)
    skill = {"production": 0.70, "v2": 0.74, "v3": 0.70}
    results = []
    for i in range(n):
        truth = {
            "sentiment": rnd.choice(["positive", "negative", "neutral"]),
            "urgent": rnd.random() < 0.3,
            "score": round(rnd.random(), 2),
            "tags": rnd.sample(TAGS, 2),
        }
        expected = {**truth, "tags": "; ".join(truth["tags"]), "urgent": str(truth["urgent"])}
        for variant, repeat in itertools.product(VARIANTS, range(repeats)):
            right = rnd.random() < skill[variant]
            failed = rnd.random() < 0.01
            output = {
                "sentiment": truth["sentiment"] if right else rnd.choice(["positive", "neutral"]),
                "urgent": truth["urgent"] if right or rnd.random() < 0.5 else not truth["urgent"],
                "score": truth["score"] if right else round(rnd.random(), 2),
                "tags": truth["tags"] if right else rnd.sample(TAGS, rnd.randint(1, 3)),
                "summary": f"sample {i} by {variant}" if repeat == 0 else f"sample {i} again",
            }
            results.append(
                Result(
                    run_id="bench",
                    sample_id=str(i),
                    variant=variant,
                    prompt_name="triage",
                    prompt_version=1,
                    output=None if failed else output,
                    error="HTTP 500" if failed else None,
                    expected=expected,
                )
            )
    return results


def timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def measure(n: int, repeats: int, rounds: int = 5) -> float:
    """The statistics and compare() on the same results, interleaved ``rounds`` times; the
    minimum of each (wall and CPU seconds) is the figure least disturbed by other processes on
    a shared machine, and their ratio the figure that travels between machines."""
    results = make_results(n, repeats)
    schemas = dict.fromkeys(VARIANTS, SCHEMA)
    pairs = list(itertools.combinations(VARIANTS, 2))

    def statistics() -> Any:
        tables = tabulate(results, schemas, VARIANTS)
        return [paired(tables, baseline, candidate) for baseline, candidate in pairs]

    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for _ in range(rounds):
        wall, cpu, stats = timed(statistics)
        ours.append((wall, cpu))
        wall, cpu, _ = timed(lambda: compare(results, SCHEMA, VARIANTS))
        base.append((wall, cpu))
    wall, cpu = min(w for w, _ in ours), min(c for _, c in ours)
    base_wall, base_cpu = min(w for w, _ in base), min(c for _, c in base)
    print(
        f"{n:,} samples × {len(VARIANTS)} variants × {FIELDS} fields × {repeats} repeat(s), "
        f"{len(pairs)} pairs: {wall:.3f} s wall, {cpu:.3f} s CPU; compare() on the same "
        f"results {base_wall:.3f} s wall, {base_cpu:.3f} s CPU → {cpu / base_cpu:.2f}× "
        f"(CPU; min of {rounds} interleaved)"
    )
    last = stats[-1]
    verdicts = {name: fs.verdict for name, fs in last.fields.items()}
    print(f"  {last.candidate} vs {last.baseline}: {verdicts}")
    return wall


def main() -> None:
    import prompt_playground.statistics  # noqa: F401 - import time is not part of the figure

    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (other processes share them)")
    total = measure(10_000, 1)
    print(f"target < 1 s wall: {'✔' if total < 1 else '✘'}")
    measure(10_000, 3)


if __name__ == "__main__":
    main()
