"""How long the samples reader takes on hostile input: the fuzz corpus (small limits, as in
``tests/unit/test_samples_fuzz.py``) and the review's findings at full size (default limits).

Every file must end in rows or a ``SamplesError``; the figures show that it also ends quickly
(before the fixes a 100,000-key JSONL row took 56 s and deep nesting raised RecursionError).
Run: ``.venv/bin/python -m bench.samples_fuzz [N]``.
"""

from __future__ import annotations

import statistics
import sys
import time

from prompt_playground.errors import SamplesError
from prompt_playground.samples import SampleLimits, load_samples
from tests.support.hostile_samples import SMALL_LIMITS, corpus, full_size

#: Time budget per file this bench reports against (not asserted anywhere).
BUDGET_S = {"corpus": 0.05, "full size": 2.0}


def _time(data: bytes, name: str, limits: SampleLimits) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        loaded = load_samples(data, name, limits=limits)
        outcome = f"{loaded.row_count} rows"
    except SamplesError as exc:
        outcome = "SamplesError: " + exc.message[:70]
    return time.perf_counter() - started, outcome


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    files = list(corpus(n))
    times, errors = [], 0
    for data, name in files:
        elapsed, outcome = _time(data, name, SMALL_LIMITS)
        times.append(elapsed)
        errors += outcome.startswith("SamplesError")
    times.sort()
    total_mb = sum(len(d) for d, _ in files) / 1e6
    print(
        f"corpus: {n} files, {total_mb:.1f} MB, {n - errors} with rows, {errors} SamplesError; "
        f"total {sum(times):.2f} s, mean {statistics.mean(times) * 1e3:.2f} ms, "
        f"p99 {times[int(0.99 * (n - 1))] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms "
        f"(budget {BUDGET_S['corpus'] * 1e3:.0f} ms per file)"
    )
    for label, data, name in full_size():
        elapsed, outcome = _time(data, name, SampleLimits())
        print(
            f"full size: {label:<30} {len(data) / 1e6:6.1f} MB  {elapsed * 1e3:8.1f} ms  "
            f"(budget {BUDGET_S['full size']:.0f} s)  {outcome}"
        )


if __name__ == "__main__":
    main()
