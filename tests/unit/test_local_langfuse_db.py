"""The SQLite layer of local-langfuse: ordered migrations, upgrades in place, atomic writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from local_langfuse.db import MIGRATIONS, Database


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
