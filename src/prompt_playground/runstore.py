"""The run store: every comparison run, its samples and each result as it completes (SQLite).

A run records what makes it reproducible (resolved prompt versions, schema fingerprints, model
parameters, the samples file hash). Results are written one by one, so a crash or a page reload
loses nothing that finished. Migrations are an ordered, append-only list.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from prompt_playground.drafts import Draft
from prompt_playground.errors import RunStoreError
from prompt_playground.models import Result, Sample
from prompt_playground.sqlite import SQLiteFile

RunStatus = Literal["running", "completed", "cancelled", "failed", "interrupted"]


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            prompt_name TEXT NOT NULL,
            variants TEXT NOT NULL,
            samples_name TEXT,
            samples_hash TEXT,
            total INTEGER NOT NULL,
            concurrency INTEGER,
            meta TEXT NOT NULL DEFAULT '{}',
            error TEXT
        )"""
    )
    conn.execute(
        """CREATE TABLE samples (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            sample_id TEXT NOT NULL,
            row INTEGER NOT NULL,
            variables TEXT NOT NULL,
            messages TEXT,
            expected TEXT NOT NULL,
            error TEXT,
            PRIMARY KEY (run_id, position)
        )"""
    )
    conn.execute(
        """CREATE TABLE results (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            sample_id TEXT NOT NULL,
            variant TEXT NOT NULL,
            prompt_name TEXT NOT NULL,
            prompt_version INTEGER,
            output TEXT,
            raw_output TEXT,
            error TEXT,
            attempts INTEGER NOT NULL,
            latency_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd REAL,
            trace_id TEXT,
            trace_url TEXT,
            expected TEXT NOT NULL,
            seq INTEGER NOT NULL,
            PRIMARY KEY (run_id, sample_id, variant)
        )"""
    )
    conn.execute("CREATE INDEX results_seq ON results(run_id, seq)")


def _m002_drafts(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE drafts (
            prompt_name TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            prompt TEXT NOT NULL,
            config TEXT NOT NULL,
            base_version INTEGER,
            tags TEXT NOT NULL DEFAULT '[]',
            saved_version INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (prompt_name, name)
        )"""
    )


def _m003_result_repeats(conn: sqlite3.Connection) -> None:
    """Repeats: each (sample, variant) may be asked N times, so ``repeat`` joins the key.

    SQLite cannot change a primary key in place: the table is rebuilt, old rows get repeat 1.
    """
    conn.execute("ALTER TABLE results RENAME TO results_before_repeats")
    conn.execute(
        """CREATE TABLE results (
            run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            sample_id TEXT NOT NULL,
            variant TEXT NOT NULL,
            prompt_name TEXT NOT NULL,
            prompt_version INTEGER,
            output TEXT,
            raw_output TEXT,
            error TEXT,
            attempts INTEGER NOT NULL,
            latency_ms REAL,
            input_tokens INTEGER,
            output_tokens INTEGER,
            cost_usd REAL,
            trace_id TEXT,
            trace_url TEXT,
            expected TEXT NOT NULL,
            seq INTEGER NOT NULL,
            repeat INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (run_id, sample_id, variant, repeat)
        )"""
    )
    conn.execute("INSERT INTO results SELECT *, 1 FROM results_before_repeats")
    conn.execute("DROP TABLE results_before_repeats")
    conn.execute("CREATE INDEX IF NOT EXISTS results_seq ON results(run_id, seq)")


def _m004_actor(conn: sqlite3.Connection) -> None:
    """Who started a run and who last saved a draft (the signed-in user, or the CLI's actor)."""
    conn.execute("ALTER TABLE runs ADD COLUMN actor TEXT")
    conn.execute("ALTER TABLE drafts ADD COLUMN actor TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial,
    _m002_drafts,
    _m003_result_repeats,
    _m004_actor,
]


@dataclass
class RunRecord:
    """A run's header: what was compared, on what, how far it got."""

    id: str
    prompt_name: str
    variants: list[str]
    total: int
    status: RunStatus = "running"
    created_at: str = field(default_factory=lambda: _now())
    finished_at: str | None = None
    samples_name: str | None = None
    samples_hash: str | None = None
    concurrency: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    done: int = 0
    errors: int = 0
    actor: str | None = None  # who started it: ``alice@example.com (app)``, ``ci (cli)``


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """SQLite file shared by the app's threads (WAL; one connection per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SQLiteFile(self.path, MIGRATIONS, what="the run store")

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db.conn

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._db.write()

    # -- writes ------------------------------------------------------------------------------

    def create_run(self, run: RunRecord, samples: Sequence[Sample]) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (id, created_at, status, prompt_name, variants, samples_name,"
                " samples_hash, total, concurrency, meta, actor) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.id,
                    run.created_at,
                    run.status,
                    run.prompt_name,
                    json.dumps(run.variants),
                    run.samples_name,
                    run.samples_hash,
                    run.total,
                    run.concurrency,
                    json.dumps(run.meta, ensure_ascii=False, default=str),
                    run.actor,
                ),
            )
            conn.executemany(
                "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        run.id,
                        position,
                        s.id,
                        s.row,
                        json.dumps(s.variables, ensure_ascii=False),
                        json.dumps(s.messages, ensure_ascii=False) if s.messages else None,
                        json.dumps(s.expected, ensure_ascii=False, default=str),
                        s.error,
                    )
                    for position, s in enumerate(samples)
                ],
            )

    def update_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET meta = ? WHERE id = ?",
                (json.dumps(meta, ensure_ascii=False, default=str), run_id),
            )

    def add_results(self, results: Sequence[Result]) -> None:
        """Append results (a retried sample replaces its earlier result)."""
        if not results:
            return
        with self._write() as conn:
            rows = []
            # ``seq`` is per run and taken inside the write transaction, so processes that
            # share the file (a run split over worker processes) never hand out the same one.
            last: dict[str, int] = {}
            for r in results:
                if r.run_id not in last:
                    row = conn.execute(
                        "SELECT COALESCE(MAX(seq), 0) FROM results WHERE run_id = ?", (r.run_id,)
                    ).fetchone()
                    last[r.run_id] = int(row[0])
                last[r.run_id] += 1
                seq = last[r.run_id]
                rows.append(
                    (
                        r.run_id,
                        r.sample_id,
                        r.variant,
                        r.prompt_name,
                        r.prompt_version,
                        json.dumps(r.output, ensure_ascii=False) if r.output is not None else None,
                        r.raw_output,
                        r.error,
                        r.attempts,
                        r.latency_ms,
                        r.input_tokens,
                        r.output_tokens,
                        r.cost_usd,
                        r.trace_id,
                        r.trace_url,
                        json.dumps(r.expected, ensure_ascii=False, default=str),
                        seq,
                        r.repeat,
                    )
                )
            conn.executemany(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows
            )

    def add_result(self, result: Result) -> None:
        self.add_results([result])

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?",
                (status, _now(), error, run_id),
            )

    def mark_interrupted(self) -> int:
        """Mark runs left 'running' by a process that is gone (their finished rows stay)."""
        with self._write() as conn:
            stale = [
                row["id"]
                for row in conn.execute("SELECT id, meta FROM runs WHERE status = 'running'")
                if not _alive(json.loads(row["meta"]).get("pid"))
            ]
            conn.executemany(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?",
                [
                    (
                        _now(),
                        "The process running this run stopped before it finished; "
                        "finished results are kept.",
                        run_id,
                    )
                    for run_id in stale
                ],
            )
            return len(stale)

    def delete_run(self, run_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

    # -- reads -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._runs("WHERE r.id = ?", (run_id,))
        if not rows:
            raise RunStoreError(f"There is no run '{run_id}' in {self.path}.")
        return rows[0]

    def list_runs(self, limit: int = 200) -> list[RunRecord]:
        return self._runs("ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?", (limit,))

    def _runs(self, tail: str, params: tuple[Any, ...]) -> list[RunRecord]:
        query = (
            "SELECT r.*, (SELECT COUNT(*) FROM results x WHERE x.run_id = r.id) AS done,"
            " (SELECT COUNT(*) FROM results x WHERE x.run_id = r.id AND x.error IS NOT NULL)"
            " AS errors FROM runs r " + tail
        )
        return [
            RunRecord(
                id=row["id"],
                prompt_name=row["prompt_name"],
                variants=json.loads(row["variants"]),
                total=row["total"],
                status=row["status"],
                created_at=row["created_at"],
                finished_at=row["finished_at"],
                samples_name=row["samples_name"],
                samples_hash=row["samples_hash"],
                concurrency=row["concurrency"],
                meta=json.loads(row["meta"]),
                error=row["error"],
                done=row["done"],
                errors=row["errors"],
                actor=row["actor"],
            )
            for row in self._conn.execute(query, params)
        ]

    def progress(self, run_id: str) -> tuple[int, int]:
        row = self._conn.execute(
            "SELECT COUNT(*), COUNT(error) FROM results WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0]), int(row[1])

    def results(self, run_id: str, *, after_seq: int = 0) -> list[Result]:
        rows = self._conn.execute(
            "SELECT * FROM results WHERE run_id = ? AND seq > ? ORDER BY seq", (run_id, after_seq)
        )
        return [
            Result(
                run_id=row["run_id"],
                sample_id=row["sample_id"],
                variant=row["variant"],
                prompt_name=row["prompt_name"],
                prompt_version=row["prompt_version"],
                output=json.loads(row["output"]) if row["output"] is not None else None,
                raw_output=row["raw_output"],
                error=row["error"],
                attempts=row["attempts"],
                latency_ms=row["latency_ms"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                cost_usd=row["cost_usd"],
                trace_id=row["trace_id"],
                trace_url=row["trace_url"],
                expected=json.loads(row["expected"]),
                repeat=row["repeat"],
            )
            for row in rows
        ]

    def samples(self, run_id: str) -> list[Sample]:
        rows = self._conn.execute(
            "SELECT * FROM samples WHERE run_id = ? ORDER BY position", (run_id,)
        )
        return [
            Sample(
                id=row["sample_id"],
                row=row["row"],
                variables=json.loads(row["variables"]),
                messages=json.loads(row["messages"]) if row["messages"] else None,
                expected=json.loads(row["expected"]),
                error=row["error"],
            )
            for row in rows
        ]

    # -- drafts ------------------------------------------------------------------------------

    def save_draft(self, draft: Draft) -> Draft:
        """Create or replace a draft (by prompt and name); returns it with its save time."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO drafts (prompt_name, name, type, prompt, config, base_version, tags,"
                " saved_version, created_at, updated_at, actor) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (prompt_name, name) DO UPDATE SET type = excluded.type,"
                " prompt = excluded.prompt, config = excluded.config,"
                " base_version = excluded.base_version, tags = excluded.tags,"
                " saved_version = excluded.saved_version, updated_at = excluded.updated_at,"
                " actor = excluded.actor",
                (
                    draft.prompt_name,
                    draft.name,
                    draft.type,
                    json.dumps(draft.prompt, ensure_ascii=False),
                    json.dumps(draft.config, ensure_ascii=False),
                    draft.base_version,
                    json.dumps(draft.tags, ensure_ascii=False),
                    draft.saved_version,
                    now,
                    now,
                    draft.actor,
                ),
            )
        return self.get_draft(draft.prompt_name, draft.name)

    def get_draft(self, prompt_name: str, name: str) -> Draft:
        rows = self._db.rows(
            "SELECT * FROM drafts WHERE prompt_name = ? AND name = ?", (prompt_name, name)
        )
        if not rows:
            known = ", ".join(d.name for d in self.drafts(prompt_name)) or "none"
            raise RunStoreError(f"Prompt '{prompt_name}' has no draft '{name}'. Drafts: {known}.")
        return _draft(rows[0])

    def has_draft(self, prompt_name: str, name: str) -> bool:
        return bool(
            self._db.rows(
                "SELECT 1 FROM drafts WHERE prompt_name = ? AND name = ?", (prompt_name, name)
            )
        )

    def drafts(self, prompt_name: str | None = None) -> list[Draft]:
        """Drafts (of one prompt, or all), the most recently edited first."""
        if prompt_name is None:
            rows = self._db.rows("SELECT * FROM drafts ORDER BY updated_at DESC")
        else:
            rows = self._db.rows(
                "SELECT * FROM drafts WHERE prompt_name = ? ORDER BY updated_at DESC",
                (prompt_name,),
            )
        return [_draft(row) for row in rows]

    def delete_draft(self, prompt_name: str, name: str) -> None:
        with self._write() as conn:
            conn.execute(
                "DELETE FROM drafts WHERE prompt_name = ? AND name = ?", (prompt_name, name)
            )


def _draft(row: sqlite3.Row) -> Draft:
    return Draft(
        name=row["name"],
        prompt_name=row["prompt_name"],
        type="chat" if row["type"] == "chat" else "text",
        prompt=json.loads(row["prompt"]),
        config=json.loads(row["config"]),
        base_version=row["base_version"],
        updated_at=row["updated_at"],
        saved_version=row["saved_version"],
        tags=json.loads(row["tags"]),
        actor=row["actor"],
    )
