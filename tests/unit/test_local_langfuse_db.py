"""The SQLite layer of local-langfuse: ordered migrations, upgrades in place, atomic writes,
and a read cache that no write goes unseen by."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from local_langfuse.db import CACHE_ITEM_BYTES, MIGRATIONS, Database


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row[0] for row in rows}


def _schema(path: Path) -> set[tuple[str, str]]:
    """Every table and index with its SQL: a migration may add either, or alter one."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    return {(row[0], row[1]) for row in rows}


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_file_gets_every_migration(tmp_path: Path) -> None:
    db = Database(tmp_path / "new.sqlite3")
    try:
        assert db.schema_version() == len(MIGRATIONS)
    finally:
        db.close()
    expected = {"server_meta", "prompts", "traces", "observations", "scores", "datasets"}
    assert expected <= _tables(tmp_path / "new.sqlite3")


@pytest.mark.parametrize("applied", range(len(MIGRATIONS)))
def test_a_file_with_the_first_migrations_is_upgraded_by_the_rest(
    tmp_path: Path, applied: int
) -> None:
    path = tmp_path / "old.sqlite3"
    old = Database(path, migrations=MIGRATIONS[:applied])
    old.close()
    assert _user_version(path) == applied
    before = _schema(path)

    upgraded = Database(path)
    upgraded.close()

    assert _user_version(path) == len(MIGRATIONS)
    assert before != _schema(path)
    assert "dataset_items" in _tables(path)


def test_reopening_an_up_to_date_file_runs_no_migration_again(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite3"
    first = Database(path)
    with first.write() as conn:
        conn.execute(
            "INSERT INTO datasets (id, name, created_at, updated_at) VALUES ('d', 'kept', 't', 't')"
        )
    first.close()

    calls: list[int] = []

    def spy(_: sqlite3.Connection) -> None:
        calls.append(1)

    second = Database(path, migrations=[*MIGRATIONS, spy])
    second.close()
    third = Database(path, migrations=[*MIGRATIONS, spy])
    try:
        assert calls == [1]
        assert third.schema_version() == len(MIGRATIONS) + 1
        assert third.conn.execute("SELECT name FROM datasets").fetchall()[0][0] == "kept"
    finally:
        third.close()


def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "broken.sqlite3"

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("simulated failure")

    with pytest.raises(sqlite3.OperationalError):
        Database(path, migrations=[*MIGRATIONS[:2], broken])

    assert _user_version(path) == 0
    assert "half_done" not in _tables(path)
    assert "prompts" not in _tables(path)


def test_a_write_that_raises_is_rolled_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "rollback.sqlite3")
    try:

        def insert_then_fail() -> None:
            with db.write() as conn:
                conn.execute(
                    "INSERT INTO datasets (id, name, created_at, updated_at) "
                    "VALUES ('d', 'gone', 't', 't')"
                )
                raise RuntimeError("abort")

        with pytest.raises(RuntimeError):
            insert_then_fail()
        assert db.conn.execute("SELECT COUNT(*) FROM datasets").fetchone()[0] == 0
    finally:
        db.close()


def test_deleting_a_dataset_deletes_its_items(tmp_path: Path) -> None:
    db = Database(tmp_path / "cascade.sqlite3")
    try:
        with db.write() as conn:
            conn.execute(
                "INSERT INTO datasets (id, name, created_at, updated_at) "
                "VALUES ('d', 'n', 't', 't')"
            )
            conn.execute(
                "INSERT INTO dataset_items (id, dataset_id, created_at, updated_at) "
                "VALUES ('i', 'd', 't', 't')"
            )
        with db.write() as conn:
            conn.execute("DELETE FROM datasets WHERE id = 'd'")
        assert db.conn.execute("SELECT COUNT(*) FROM dataset_items").fetchone()[0] == 0
    finally:
        db.close()


class RecordingRead:
    """A read for ``cached_read`` that records each time it really runs."""

    def __init__(self, answer: bytes = b"answer") -> None:
        self.answer = answer
        self.runs = 0

    def __call__(self, conn: sqlite3.Connection) -> bytes:
        self.runs += 1
        count = conn.execute("SELECT COUNT(*) FROM datasets").fetchone()[0]
        return self.answer + str(count).encode()


def _add_dataset(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(
        "INSERT INTO datasets (id, name, created_at, updated_at) VALUES (?, ?, 't', 't')",
        (name, name),
    )


def test_cached_read_answers_again_from_memory_while_nothing_is_written(tmp_path: Path) -> None:
    db = Database(tmp_path / "cache.sqlite3")
    read, other = RecordingRead(), RecordingRead(b"other")
    try:
        assert [db.cached_read("k", read) for _ in range(3)] == [b"answer0"] * 3
        assert db.cached_read("k2", other) == b"other0"
        assert (read.runs, other.runs) == (1, 1)
    finally:
        db.close()


def test_cached_read_sees_a_write_of_its_own_connection(tmp_path: Path) -> None:
    db = Database(tmp_path / "cache.sqlite3")
    read = RecordingRead()
    try:
        assert db.cached_read("k", read) == b"answer0"
        with db.write() as conn:  # the calling thread's own connection
            _add_dataset(conn, "mine")
        assert db.cached_read("k", read) == b"answer1"
        assert read.runs == 2
    finally:
        db.close()


def test_cached_read_sees_a_write_of_another_thread(tmp_path: Path) -> None:
    db = Database(tmp_path / "cache.sqlite3")
    read = RecordingRead()

    def write() -> None:
        with db.write() as conn:
            _add_dataset(conn, "theirs")

    try:
        assert db.cached_read("k", read) == b"answer0"
        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
        assert db.cached_read("k", read) == b"answer1"
    finally:
        db.close()


def test_cached_read_sees_a_write_of_another_process(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    db = Database(path)
    read = RecordingRead()
    script = (
        "import sqlite3, sys; conn = sqlite3.connect(sys.argv[1]); "
        'conn.execute("INSERT INTO datasets (id, name, created_at, updated_at) '
        "VALUES ('p', 'p', 't', 't')\"); conn.commit()"
    )
    try:
        assert db.cached_read("k", read) == b"answer0"
        subprocess.run([sys.executable, "-c", script, str(path)], check=True)
        assert db.cached_read("k", read) == b"answer1"
    finally:
        db.close()


def test_cached_read_keeps_no_answer_larger_than_its_item_limit(tmp_path: Path) -> None:
    db = Database(tmp_path / "cache.sqlite3")
    large = RecordingRead(b"x" * CACHE_ITEM_BYTES)
    try:
        db.cached_read("large", large)
        db.cached_read("large", large)
        assert large.runs == 2
    finally:
        db.close()
