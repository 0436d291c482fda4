"""Run every benchmark in turn (``make bench``); each prints its figures beside its baseline."""

from __future__ import annotations

import importlib
import importlib.util
import sys

BENCHES = [
    "bench.langfuse_server",
    "bench.engine",
    "bench.serve",
    "bench.compare_bench",
    "bench.statistics_bench",
    "bench.dataset_runs",
    "bench.samples_fuzz",
    "bench.page_rerun",
    "bench.local_model",
    "bench.first_run",
    "bench.store_write",
]


def main() -> int:
    selected = sys.argv[1:] or BENCHES
    failed = []
    for name in selected:
        if importlib.util.find_spec(name) is None:
            print(f"== {name}: not present, skipped\n")
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(name)
        entry = getattr(module, "main", None)
        if entry is None:
            print(f"{name} has no main(); skipped\n")
            continue
        sys.argv = [name]
        try:
            entry()
        except Exception as exc:
            failed.append(name)
            print(f"{name} failed: {type(exc).__name__}: {exc}")
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
