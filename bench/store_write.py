"""Results written per second by the run store: PostgreSQL vs SQLite, 50 concurrent writers.

Each writer calls ``RunStore.add_result`` once per result, as the runner does when a call
finishes (one committed transaction per result). Two shapes:

- one run, 50 writers: a comparison at concurrency 50 (writers of one run queue on its row,
  so seqs commit in order);
- 50 runs, one writer each: 50 runs at once (replicas and CI jobs sharing one database).

Stores: SQLAlchemy on SQLite (the embedded default), SQLAlchemy on PostgreSQL (a throwaway
cluster started here with PostgreSQL's default settings, fsync on; the store's sessions commit
without waiting for the flush, as SQLite's WAL + synchronous=NORMAL does), and, as the baseline,
the sqlite3 run store of the release before this storage layer (read from git).
Also the peak Python memory of reading back a run of 10,000 samples x 3 (30,000 results).
``python -m bench.store_write [results-per-writer]``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_playground.models import Result, Sample
from prompt_playground.runstore import RunRecord, RunStore

WRITERS = 50
ROOT = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "4ccd25e"  # the last commit with the sqlite3-only store


def _result(run_id: str, writer: int, i: int) -> Result:
    return Result(
        run_id=run_id,
        sample_id=f"s{writer}-{i}",
        variant="production",
        prompt_name="bench",
        prompt_version=1,
        output={"sentiment": "positive", "topics": ["billing", "delivery"], "urgent": False},
        raw_output='{"sentiment": "positive"}',
        attempts=1,
        latency_ms=412.5,
        input_tokens=350,
        output_tokens=40,
        cost_usd=0.0001,
        trace_id=f"{writer:016x}{i:016x}",
        expected={"sentiment": "positive"},
    )


def _record(run_id: str, total: int) -> RunRecord:
    return RunRecord(id=run_id, prompt_name="bench", variants=["production"], total=total)


def measure(store: Any, per_writer: int, *, shared_run: bool) -> float:
    """Results per second with ``WRITERS`` threads each writing ``per_writer`` results."""
    tag = time.time_ns()
    runs = [f"run-{tag}"] if shared_run else [f"run-{tag}-{w}" for w in range(WRITERS)]
    for run_id in runs:
        store.create_run(_record(run_id, WRITERS * per_writer), [Sample(id="s", row=1)])
    start = threading.Barrier(WRITERS + 1)

    def write(writer: int) -> None:
        run_id = runs[0] if shared_run else runs[writer]
        start.wait()
        for i in range(per_writer):
            store.add_result(_result(run_id, writer, i))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    written = sum(store.progress(run_id)[0] for run_id in runs)
    assert written == WRITERS * per_writer, (written, WRITERS * per_writer)
    return written / elapsed


def read_peak_mb(store: Any, n_results: int = 30_000) -> float:
    """Peak Python memory (tracemalloc) of reading back one run of ``n_results`` results."""
    run_id = f"big-{time.time_ns()}"
    store.create_run(_record(run_id, n_results), [Sample(id="s", row=1)])
    for start in range(0, n_results, 1000):
        store.add_results([_result(run_id, 0, i) for i in range(start, start + 1000)])
    tracemalloc.start()
    results = store.results(run_id)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(results) == n_results
    return peak / 1e6


def _baseline_store_class() -> Callable[[Path], Any] | None:
    """The run store as it was before this storage layer (sqlite3, PRAGMA user_version)."""
    modules = {}
    for name in ("sqlite", "runstore"):
        try:
            source = subprocess.run(
                ["git", "show", f"{BASELINE_COMMIT}:src/prompt_playground/{name}.py"],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        modules[name] = source
    folder = Path(tempfile.mkdtemp(prefix="bench-old-store-"))
    (folder / "old_sqlite.py").write_text(modules["sqlite"])
    (folder / "old_runstore.py").write_text(
        modules["runstore"].replace(
            "from prompt_playground.sqlite import SQLiteFile", "from old_sqlite import SQLiteFile"
        )
    )
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("old_runstore", folder / "old_runstore.py")
    assert spec is not None
    assert spec.loader is not None
    module: types.ModuleType = importlib.util.module_from_spec(spec)
    sys.modules["old_runstore"] = module
    spec.loader.exec_module(module)
    return module.RunStore  # type: ignore[no-any-return]


def main() -> None:
    from tests.support.postgres import postgres_cluster

    per_writer = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print(f"{WRITERS} writer threads x {per_writer} results, one add_result (commit) each")
    rows: list[tuple[str, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        old = _baseline_store_class()
        if old is not None:
            store = old(Path(tmp) / "old.sqlite3")
            rows.append(
                (
                    "sqlite3 store (baseline, before)",
                    measure(store, per_writer, shared_run=True),
                    measure(store, per_writer, shared_run=False),
                    read_peak_mb(store),
                )
            )
        store = RunStore(Path(tmp) / "runs.sqlite3")
        rows.append(
            (
                "SQLAlchemy, SQLite file",
                measure(store, per_writer, shared_run=True),
                measure(store, per_writer, shared_run=False),
                read_peak_mb(store),
            )
        )
        with postgres_cluster(durable=True) as cluster:
            url = cluster.new_database()
            store = RunStore(url)
            rows.append(
                (
                    "SQLAlchemy, PostgreSQL",
                    measure(store, per_writer, shared_run=True),
                    measure(store, per_writer, shared_run=False),
                    read_peak_mb(store),
                )
            )
    print(
        f"{'store':36} {'1 run, 50 writers':>20} {'50 runs, 1 writer each':>24}"
        f" {'read 30,000 results: peak':>28}"
    )
    for name, shared, separate, peak in rows:
        print(f"{name:36} {shared:>14,.0f} res/s {separate:>18,.0f} res/s {peak:>23,.0f} MB")


if __name__ == "__main__":
    main()
