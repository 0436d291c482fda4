"""The run store: runs, samples and results, ordered by completion, surviving reopen.

Tests taking ``store`` or ``backend`` run on SQLite and on PostgreSQL; the ones that build an
old SQLite file by hand are about SQLite files from earlier releases.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from prompt_playground.errors import RunStoreError
from prompt_playground.models import Result, Sample
from prompt_playground.runstore import MIGRATIONS, RunRecord, RunStore
from tests.support.postgres import Backend


def record(run_id: str, *, pid: int | None = None, total: int = 4) -> RunRecord:
    meta: dict[str, object] = {"versions": {"production": 1, "v2": 2}}
    if pid is not None:
        meta["pid"] = pid
    return RunRecord(
        id=run_id,
        prompt_name="chat-extract-feedback",
        variants=["production", "v2"],
        total=total,
        samples_name="chats.csv",
        samples_hash="abc123",
        concurrency=4,
        meta=meta,
    )


SAMPLES = [
    Sample(id="s1", row=1, variables={"chat_json": "[]"}, expected={"sentiment": "positive"}),
    Sample(
        id="s2",
        row=2,
        variables={},
        messages=[{"role": "user", "content": "hi"}],
        expected={"topics": ["a", "b"]},
    ),
    Sample(id="s3", row=3, error="column 'chat_json': not valid JSON"),
]


def result(run_id: str, sample_id: str, variant: str, **kw: object) -> Result:
    return Result(
        run_id=run_id,
        sample_id=sample_id,
        variant=variant,
        prompt_name="chat-extract-feedback",
        prompt_version=1,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(backend: Backend) -> RunStore:
    """The store on SQLite and on PostgreSQL: every test using it runs on both."""
    return RunStore(backend.target("runs.sqlite3"))


def test_a_new_store_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    RunStore(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "samples", "results"} <= tables


def test_reopening_a_migrated_store_does_not_migrate_again(backend: Backend) -> None:
    path = backend.target("runs.sqlite3")
    first = RunStore(path)
    first.create_run(record("r1"), SAMPLES)
    RunStore(path)  # would fail with "table runs already exists" if migrations re-ran
    assert RunStore(path).get_run("r1").id == "r1"


def test_create_get_and_list_runs(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.create_run(record("r2"), SAMPLES[:1])
    run = store.get_run("r1")
    assert (run.prompt_name, run.variants, run.total) == (
        "chat-extract-feedback",
        ["production", "v2"],
        4,
    )
    assert (run.samples_name, run.samples_hash, run.concurrency) == ("chats.csv", "abc123", 4)
    assert run.meta["versions"] == {"production": 1, "v2": 2}
    assert (run.status, run.done, run.errors, run.finished_at) == ("running", 0, 0, None)
    assert [r.id for r in store.list_runs()] == ["r2", "r1"]
    assert [r.id for r in store.list_runs(limit=1)] == ["r2"]


def test_samples_round_trip_in_file_order(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    assert store.samples("r1") == SAMPLES


def test_unknown_run_is_a_clear_error(store: RunStore) -> None:
    with pytest.raises(RunStoreError, match="no run 'nope'"):
        store.get_run("nope")


def test_results_come_back_in_completion_order_with_every_field(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    full = result(
        "r1",
        "s2",
        "v2",
        output={"sentiment": "négatif", "topics": ["x"]},
        attempts=2,
        latency_ms=12.5,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.001,
        trace_id="t" * 32,
        trace_url="http://x/trace",
        expected={"topics": ["a", "b"]},
    )
    failed = result("r1", "s1", "production", error="boom", raw_output="{not json", attempts=1)
    store.add_result(full)
    store.add_result(failed)
    store.add_result(result("r1", "s1", "v2", output={"sentiment": "ok"}, attempts=1))
    results = store.results("r1")
    assert [(r.sample_id, r.variant) for r in results] == [
        ("s2", "v2"),
        ("s1", "production"),
        ("s1", "v2"),
    ]
    assert results[0] == full
    assert results[1] == failed
    assert not results[1].ok
    assert store.progress("r1") == (3, 1)
    run = store.get_run("r1")
    assert (run.done, run.errors) == (3, 1)


def test_after_seq_returns_only_what_is_new(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.create_run(record("r2"), SAMPLES)
    store.add_result(result("r1", "s1", "production", attempts=1))
    store.add_result(result("r2", "s1", "production", attempts=1))  # another run's rows
    # seq counts per run: r1/s1 got 1 (r2/s1 got r2's 1), the next two of r1 get 2 and 3.
    store.add_results(
        [result("r1", "s2", "production", attempts=1), result("r1", "s1", "v2", attempts=1)]
    )
    assert [r.sample_id for r in store.results("r1", after_seq=1)] == ["s2", "s1"]
    assert [r.variant for r in store.results("r1", after_seq=2)] == ["v2"]
    assert store.results("r1", after_seq=10**6) == []


def test_a_retried_sample_replaces_its_earlier_result_and_moves_to_the_end(
    store: RunStore,
) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.add_result(result("r1", "s1", "production", error="timeout", attempts=1))
    store.add_result(result("r1", "s2", "production", output={"a": 1}, attempts=1))
    store.add_result(result("r1", "s1", "production", output={"a": 2}, attempts=1))
    results = store.results("r1")
    assert [(r.sample_id, r.error) for r in results] == [("s2", None), ("s1", None)]
    assert store.progress("r1") == (2, 0)


def test_finish_run_records_status_and_error(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.finish_run("r1", "failed", "RuntimeError: x")
    run = store.get_run("r1")
    assert (run.status, run.error) == ("failed", "RuntimeError: x")
    assert run.finished_at is not None


def test_update_meta_replaces_the_meta(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.update_meta("r1", {"note": "ü"})
    assert store.get_run("r1").meta == {"note": "ü"}


def test_delete_run_removes_its_samples_and_results(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.create_run(record("r2"), SAMPLES)
    store.add_result(result("r1", "s1", "production", attempts=1))
    store.add_result(result("r2", "s1", "production", attempts=1))
    store.delete_run("r1")
    assert [r.id for r in store.list_runs()] == ["r2"]
    assert store.results("r1") == []
    assert store.samples("r1") == []
    assert len(store.results("r2")) == 1


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_interrupted_only_marks_runs_whose_process_is_gone(store: RunStore) -> None:
    import os

    store.create_run(record("orphan", pid=dead_pid()), SAMPLES)
    store.create_run(record("no-pid"), SAMPLES)
    store.create_run(record("alive", pid=os.getpid()), SAMPLES)
    store.create_run(record("done", pid=dead_pid()), SAMPLES)
    store.finish_run("done", "completed")
    store.add_result(result("orphan", "s1", "production", output={"a": 1}, attempts=1))

    assert store.mark_interrupted() == 2
    assert store.get_run("orphan").status == "interrupted"
    assert "finished results are kept" in (store.get_run("orphan").error or "")
    assert store.get_run("no-pid").status == "interrupted"
    assert store.get_run("alive").status == "running"
    assert store.get_run("done").status == "completed"
    assert len(store.results("orphan")) == 1
    assert store.mark_interrupted() == 0


def test_reopening_after_close_keeps_everything_and_continues_the_sequence(
    backend: Backend,
) -> None:
    path = backend.target("runs.sqlite3")
    first = RunStore(path)
    first.create_run(record("r1"), SAMPLES)
    first.add_result(result("r1", "s1", "production", output={"a": 1}, attempts=1))
    first.finish_run("r1", "completed")
    del first

    again = RunStore(path)
    assert again.get_run("r1").status == "completed"
    assert again.samples("r1") == SAMPLES
    again.add_result(result("r1", "s2", "production", attempts=1))
    assert [r.sample_id for r in again.results("r1")] == ["s1", "s2"]
    assert [r.sample_id for r in again.results("r1", after_seq=1)] == ["s2"]


def test_writes_from_many_threads_are_all_kept(store: RunStore) -> None:
    store.create_run(record("r1", total=200), SAMPLES)

    def write(variant: str) -> None:
        for i in range(50):
            store.add_result(result("r1", f"s{i}", variant, attempts=1))

    threads = [threading.Thread(target=write, args=(f"v{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = store.results("r1")
    assert len(results) == 200
    assert store.progress("r1") == (200, 0)


def test_an_unwritable_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RunStoreError, match="Cannot create the data directory"):
        RunStore(blocker / "sub" / "runs.sqlite3")


def test_two_stores_on_one_file_never_hand_out_the_same_seq(store: RunStore) -> None:
    other = RunStore(store.path)  # another process's view of the same file
    store.create_run(record("r1"), SAMPLES)
    store.add_result(result("r1", "s1", "production", attempts=1))
    other.add_result(result("r1", "s2", "production", attempts=1))
    store.add_result(result("r1", "s1", "v2", attempts=1))
    assert [(r.sample_id, r.variant) for r in store.results("r1", after_seq=1)] == [
        ("s2", "production"),
        ("s1", "v2"),
    ]


def test_repeats_of_one_sample_and_variant_are_kept_apart(store: RunStore) -> None:
    store.create_run(record("r1"), SAMPLES)
    store.add_results(
        [result("r1", "s1", "production", output={"n": i}, repeat=i) for i in (1, 2, 3)]
    )
    store.add_result(result("r1", "s1", "production", output={"n": 20}, repeat=2))  # a retry
    got = {r.repeat: r.output for r in store.results("r1")}
    assert got == {1: {"n": 1}, 2: {"n": 20}, 3: {"n": 3}}


def test_a_store_from_before_repeats_keeps_its_results_as_repeat_one(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:2]:
            migration(conn)
        conn.execute("PRAGMA user_version = 2")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO runs (id, created_at, status, prompt_name, variants, total, meta)"
            " VALUES ('r0', '2026-01-01', 'completed', 'p', '[\"a\"]', 1, '{}')"
        )
        conn.execute(
            "INSERT INTO results VALUES ('r0','s1','a','p',1,'{\"x\": 1}',NULL,NULL,1,"
            "NULL,NULL,NULL,NULL,NULL,NULL,'{}',1)"
        )
    migrated = RunStore(path)
    [kept] = migrated.results("r0")
    assert (kept.sample_id, kept.output, kept.repeat) == ("s1", {"x": 1}, 1)
    migrated.add_result(result("r0", "s1", "a", output={"x": 2}, repeat=2))
    assert [r.repeat for r in migrated.results("r0")] == [1, 2]


def test_who_started_a_run_and_who_saved_a_draft_are_kept(store: RunStore) -> None:
    from dataclasses import replace

    from prompt_playground.drafts import Draft

    store.create_run(replace(record("r1"), actor="alice@example.com (app)"), SAMPLES)
    store.create_run(record("r2"), SAMPLES)
    assert store.get_run("r1").actor == "alice@example.com (app)"
    assert store.get_run("r2").actor is None
    draft = Draft(name="d", prompt_name="p", type="text", prompt="hi", config={})
    assert store.save_draft(replace(draft, actor="bob (cli)")).actor == "bob (cli)"
    assert store.save_draft(replace(draft, actor="carol (app)")).actor == "carol (app)"


def test_a_store_from_before_actors_gains_an_empty_actor(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS[:3]:
            migration(conn)
        conn.execute("PRAGMA user_version = 3")
        conn.execute(
            "INSERT INTO runs (id, created_at, status, prompt_name, variants, total, meta)"
            " VALUES ('r0', '2026-01-01', 'completed', 'p', '[\"a\"]', 1, '{}')"
        )
    migrated = RunStore(path)
    assert (migrated.get_run("r0").id, migrated.get_run("r0").actor) == ("r0", None)


def test_a_replica_leaves_another_hosts_live_run_alone(backend: Backend) -> None:
    here = RunStore(backend.target("runs.sqlite3"), host="replica-a")
    there = RunStore(backend.target("runs.sqlite3"), host="replica-b")
    there.create_run(record("theirs", pid=dead_pid()), SAMPLES)  # their pid means nothing here
    here.create_run(record("mine", pid=dead_pid()), SAMPLES)
    assert here.mark_interrupted() == 1
    assert (here.get_run("mine").status, here.get_run("theirs").status) == (
        "interrupted",
        "running",
    )
    there.add_result(result("theirs", "s1", "production", attempts=1))  # a sign of life
    assert here.mark_interrupted() == 0
    # Nothing written for longer than the limit: that host is gone.
    assert here.mark_interrupted(stale_after_s=-1) == 1
    assert here.get_run("theirs").status == "interrupted"


def test_a_reader_paging_by_seq_sees_every_result_once_while_many_write(
    backend: Backend,
) -> None:
    """What the Runs page of another replica does while a run writes from many threads."""
    target = backend.target("runs.sqlite3")
    writers_store, reader = RunStore(target), RunStore(target)
    writers_store.create_run(record("r1", total=400), SAMPLES)
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def write(variant: str) -> None:
        for i in range(50):
            writers_store.add_result(result("r1", f"s{i}", variant, attempts=1))

    def read() -> None:
        last = 0
        while True:
            finished = done.is_set()
            page = reader.results("r1", after_seq=last)
            seen.extend((r.sample_id, r.variant) for r in page)
            last += len(page)  # no retries here: seqs run 1, 2, 3, … without gaps
            if finished:
                return

    threads = [threading.Thread(target=write, args=(f"v{n}",)) for n in range(8)]
    reading = threading.Thread(target=read)
    reading.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reading.join()
    assert len(seen) == 400
    assert len(set(seen)) == 400


def test_a_sqlite_file_of_the_last_release_is_stamped_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS:
            migration(conn)
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        conn.execute(
            "INSERT INTO runs (id, created_at, status, prompt_name, variants, total, meta)"
            " VALUES ('old', '2026-01-01', 'completed', 'p', '[\"a\"]', 1, '{}')"
        )
    store = RunStore(path)
    assert (store.get_run("old").status, store.get_run("old").actor) == ("completed", None)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version_runs").fetchall() == [
            ("r0004",)
        ]
        columns = {r[1] for r in conn.execute("PRAGMA table_info(drafts)")}
    assert "actor" in columns
    RunStore(path)  # opening again changes nothing


def test_a_database_password_never_appears_in_an_error() -> None:
    with pytest.raises(RunStoreError) as info:
        RunStore("postgresql://ana:s3cret-pw@127.0.0.1:1/runs")
    assert "s3cret-pw" not in str(info.value)
    assert "ana:***@127.0.0.1:1/runs" in str(info.value)
