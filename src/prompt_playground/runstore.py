"""The run store: every comparison run, its samples and each result as it completes.

A run records what makes it reproducible (resolved prompt versions, schema fingerprints, model
parameters, the samples file hash). Results are written one by one, so a crash or a page reload
loses nothing that finished. The store is a SQLite file, or PostgreSQL shared by every replica
and CLI run (``prompt_playground.db``). The ``_m00x`` functions are the migrations SQLite files
were made with before Alembic (``PRAGMA user_version``); new ones go in ``migrations/runs``.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import RowMapping

from prompt_playground.db import Database, is_database_url
from prompt_playground.drafts import Draft
from prompt_playground.errors import RunStoreError
from prompt_playground.models import Result, Sample

RunStatus = Literal["running", "completed", "cancelled", "failed", "interrupted"]

# A run of another host with nothing written for this long is taken for dead (results of a live
# run arrive far more often: every LLM call is bounded by the timeout and its retries).
STALE_AFTER_S = 30 * 60.0
_HOST = socket.gethostname()


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


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial,
    _m002_drafts,
    _m003_result_repeats,
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
    actor: str | None = None
    host: str | None = None  # the machine whose process runs it (None: before hosts were kept)


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
    """Runs, samples, results and drafts in a SQLite file or a shared PostgreSQL database.

    ``target`` is the SQLite file (the embedded default) or a ``postgresql://`` URL
    (``PLAYGROUND_DATABASE_URL``): then every app replica and CLI run shares one store. Safe to
    share between threads.
    """

    def __init__(self, target: Path | str, *, host: str | None = None) -> None:
        """``host`` names this process's machine on the runs it starts (default: hostname)."""
        self.path: Path | str = target if is_database_url(target) else Path(target)
        self.host = host or _HOST
        self._db = Database(
            target, what="the run store", script="runs", legacy=MIGRATIONS, baseline="r0003"
        )

    @property
    def where(self) -> str:
        """The store as it may be shown (a URL without its password)."""
        return self._db.where

    # -- writes ------------------------------------------------------------------------------

    def create_run(self, run: RunRecord, samples: Sequence[Sample]) -> None:
        now = time.time()
        with self._db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO runs (id, created_at, status, prompt_name, variants,"
                    " samples_name, samples_hash, total, concurrency, meta, actor, host,"
                    " heartbeat_at, started_ns) VALUES (:id, :created_at, :status,"
                    " :prompt_name, :variants, :samples_name, :samples_hash, :total,"
                    " :concurrency, :meta, :actor, :host, :heartbeat_at, :started_ns)"
                ),
                {
                    "id": run.id,
                    "created_at": run.created_at,
                    "status": run.status,
                    "prompt_name": run.prompt_name,
                    "variants": json.dumps(run.variants),
                    "samples_name": run.samples_name,
                    "samples_hash": run.samples_hash,
                    "total": run.total,
                    "concurrency": run.concurrency,
                    "meta": json.dumps(run.meta, ensure_ascii=False, default=str),
                    "actor": run.actor,
                    "host": self.host,
                    "heartbeat_at": now,
                    "started_ns": time.time_ns(),
                },
            )
            if samples:
                conn.execute(
                    text(
                        "INSERT INTO samples (run_id, position, sample_id, row, variables,"
                        " messages, expected, error) VALUES (:run_id, :position, :sample_id,"
                        " :row, :variables, :messages, :expected, :error)"
                    ),
                    [
                        {
                            "run_id": run.id,
                            "position": position,
                            "sample_id": s.id,
                            "row": s.row,
                            "variables": json.dumps(s.variables, ensure_ascii=False),
                            "messages": json.dumps(s.messages, ensure_ascii=False)
                            if s.messages
                            else None,
                            "expected": json.dumps(s.expected, ensure_ascii=False, default=str),
                            "error": s.error,
                        }
                        for position, s in enumerate(samples)
                    ],
                )

    def update_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        with self._db.write() as conn:
            conn.execute(
                text("UPDATE runs SET meta = :meta WHERE id = :id"),
                {"meta": json.dumps(meta, ensure_ascii=False, default=str), "id": run_id},
            )

    def add_results(self, results: Sequence[Result]) -> None:
        """Append results (a retried sample replaces its earlier result), committed at once."""
        if not results:
            return
        postgres = self._db.dialect == "postgresql"
        with self._db.write() as conn:
            rows = []
            # ``seq`` is per run and taken inside the write transaction. On PostgreSQL touching
            # the run's row first (its heartbeat) locks it until commit, so writers of one run,
            # in any process or host, hand out seqs in commit order: a reader paging with
            # ``after_seq`` never skips a result committed late with a smaller seq. (SQLite
            # serialises every write transaction, and its runs are all on this host.)
            last: dict[str, int] = {}
            now = time.time()
            if len(results) == 1:  # the runner's case: the seq is taken inside the INSERT
                if postgres:
                    conn.execute(_HEARTBEAT, {"now": now, "id": results[0].run_id})
                conn.execute(_UPSERT_NEXT, _result_row(results[0], seq=None))
                return
            for r in results:
                if r.run_id not in last:
                    if postgres:
                        conn.execute(_HEARTBEAT, {"now": now, "id": r.run_id})
                    last[r.run_id] = int(conn.execute(_LAST_SEQ, {"id": r.run_id}).scalar_one())
                last[r.run_id] += 1
                rows.append(_result_row(r, seq=last[r.run_id]))
            conn.execute(_UPSERT_RESULT, rows)

    def add_result(self, result: Result) -> None:
        self.add_results([result])

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        with self._db.write() as conn:
            conn.execute(
                text(
                    "UPDATE runs SET status = :status, finished_at = :at, error = :error"
                    " WHERE id = :id"
                ),
                {"status": status, "at": _now(), "error": error, "id": run_id},
            )

    def mark_interrupted(self, *, stale_after_s: float = STALE_AFTER_S) -> int:
        """Mark runs left 'running' by a process that is gone (their finished rows stay).

        A run of this host is gone when its pid is; a run of another host (replicas sharing a
        PostgreSQL store) when nothing was written for it for ``stale_after_s`` seconds: a
        replica never marks another host's live run interrupted.
        """
        cutoff = time.time() - stale_after_s
        with self._db.write() as conn:
            stale = [
                row.id
                for row in conn.execute(
                    text("SELECT id, meta, host, heartbeat_at FROM runs WHERE status = 'running'")
                )
                if self._gone(json.loads(row.meta), row.host, row.heartbeat_at, cutoff)
            ]
            if stale:
                conn.execute(
                    text(
                        "UPDATE runs SET status = 'interrupted', finished_at = :at,"
                        " error = :error WHERE id = :id AND status = 'running'"
                    ),
                    [
                        {
                            "at": _now(),
                            "error": "The process running this run stopped before it "
                            "finished; finished results are kept.",
                            "id": run_id,
                        }
                        for run_id in stale
                    ],
                )
            return len(stale)

    def _gone(
        self, meta: dict[str, Any], host: str | None, heartbeat_at: float | None, cutoff: float
    ) -> bool:
        if host is None or host == self.host:
            return not _alive(meta.get("pid"))
        return heartbeat_at is None or heartbeat_at < cutoff

    def delete_run(self, run_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": run_id})

    # -- reads -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._runs("WHERE r.id = :id", {"id": run_id})
        if not rows:
            raise RunStoreError(f"There is no run '{run_id}' in {self.where}.")
        return rows[0]

    def list_runs(self, limit: int = 200) -> list[RunRecord]:
        return self._runs(
            "ORDER BY r.created_at DESC, COALESCE(r.started_ns, 0) DESC, r.id DESC LIMIT :limit",
            {"limit": limit},
        )

    def run_states(self, limit: int = 200) -> list[tuple[str, str]]:
        """(id, status) of the newest runs, in list order: a cheap check for new or ended runs
        (no result counts)."""
        rows = self._db.rows(
            "SELECT id, status FROM runs ORDER BY created_at DESC, COALESCE(started_ns, 0) DESC,"
            " id DESC LIMIT :limit",
            {"limit": limit},
        )
        return [(row["id"], row["status"]) for row in rows]

    def _runs(self, tail: str, params: dict[str, Any]) -> list[RunRecord]:
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
                host=row["host"],
            )
            for row in self._db.rows(query, params)
        ]

    def progress(self, run_id: str) -> tuple[int, int]:
        [row] = self._db.rows(
            "SELECT COUNT(*) AS n, COUNT(error) AS e FROM results WHERE run_id = :id",
            {"id": run_id},
        )
        return int(row["n"]), int(row["e"])

    def results(self, run_id: str, *, after_seq: int = 0) -> list[Result]:
        rows = self._db.stream(
            "SELECT * FROM results WHERE run_id = :id AND seq > :after ORDER BY seq",
            {"id": run_id, "after": after_seq},
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
        rows = self._db.stream(
            "SELECT * FROM samples WHERE run_id = :id ORDER BY position", {"id": run_id}
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
        with self._db.write() as conn:
            conn.execute(
                text(
                    "INSERT INTO drafts (prompt_name, name, type, prompt, config, base_version,"
                    " tags, saved_version, created_at, updated_at, actor) VALUES (:prompt_name,"
                    " :name, :type, :prompt, :config, :base_version, :tags, :saved_version,"
                    " :now, :now, :actor)"
                    " ON CONFLICT (prompt_name, name) DO UPDATE SET type = excluded.type,"
                    " prompt = excluded.prompt, config = excluded.config,"
                    " base_version = excluded.base_version, tags = excluded.tags,"
                    " saved_version = excluded.saved_version, updated_at = excluded.updated_at,"
                    " actor = COALESCE(excluded.actor, drafts.actor)"
                ),
                {
                    "prompt_name": draft.prompt_name,
                    "name": draft.name,
                    "type": draft.type,
                    "prompt": json.dumps(draft.prompt, ensure_ascii=False),
                    "config": json.dumps(draft.config, ensure_ascii=False),
                    "base_version": draft.base_version,
                    "tags": json.dumps(draft.tags, ensure_ascii=False),
                    "saved_version": draft.saved_version,
                    "now": now,
                    "actor": draft.actor,
                },
            )
        return self.get_draft(draft.prompt_name, draft.name)

    def get_draft(self, prompt_name: str, name: str) -> Draft:
        rows = self._db.rows(
            "SELECT * FROM drafts WHERE prompt_name = :p AND name = :n",
            {"p": prompt_name, "n": name},
        )
        if not rows:
            known = ", ".join(d.name for d in self.drafts(prompt_name)) or "none"
            raise RunStoreError(f"Prompt '{prompt_name}' has no draft '{name}'. Drafts: {known}.")
        return _draft(rows[0])

    def has_draft(self, prompt_name: str, name: str) -> bool:
        return bool(
            self._db.rows(
                "SELECT 1 FROM drafts WHERE prompt_name = :p AND name = :n",
                {"p": prompt_name, "n": name},
            )
        )

    def drafts(self, prompt_name: str | None = None) -> list[Draft]:
        """Drafts (of one prompt, or all), the most recently edited first."""
        if prompt_name is None:
            rows = self._db.rows("SELECT * FROM drafts ORDER BY updated_at DESC")
        else:
            rows = self._db.rows(
                "SELECT * FROM drafts WHERE prompt_name = :p ORDER BY updated_at DESC",
                {"p": prompt_name},
            )
        return [_draft(row) for row in rows]

    def delete_draft(self, prompt_name: str, name: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                text("DELETE FROM drafts WHERE prompt_name = :p AND name = :n"),
                {"p": prompt_name, "n": name},
            )


_RESULT_COLUMNS = (
    "run_id, sample_id, variant, prompt_name, prompt_version, output, raw_output, error,"
    " attempts, latency_ms, input_tokens, output_tokens, cost_usd, trace_id, trace_url,"
    " expected, seq, repeat"
)
_HEARTBEAT = text("UPDATE runs SET heartbeat_at = :now WHERE id = :id")
_LAST_SEQ = text("SELECT COALESCE(MAX(seq), 0) FROM results WHERE run_id = :id")
_RESULT_KEY = ("run_id", "sample_id", "variant", "repeat")
_RESULT_NAMES = [c.strip() for c in _RESULT_COLUMNS.split(",")]
_ON_CONFLICT = " ON CONFLICT (run_id, sample_id, variant, repeat) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _RESULT_NAMES if c not in _RESULT_KEY
)
_UPSERT_RESULT = text(
    f"INSERT INTO results ({_RESULT_COLUMNS}) VALUES ("
    + ", ".join(f":{c}" for c in _RESULT_NAMES)
    + ")"
    + _ON_CONFLICT
)
# One result: its seq is the run's next, computed in the same statement.
_UPSERT_NEXT = text(
    f"INSERT INTO results ({_RESULT_COLUMNS}) VALUES ("
    + ", ".join(
        "(SELECT COALESCE(MAX(seq), 0) + 1 FROM results WHERE run_id = :run_id)"
        if c == "seq"
        else f":{c}"
        for c in _RESULT_NAMES
    )
    + ")"
    + _ON_CONFLICT
)


def _result_row(r: Result, *, seq: int | None) -> dict[str, Any]:
    row = {
        "run_id": r.run_id,
        "sample_id": r.sample_id,
        "variant": r.variant,
        "prompt_name": r.prompt_name,
        "prompt_version": r.prompt_version,
        "output": json.dumps(r.output, ensure_ascii=False) if r.output is not None else None,
        "raw_output": r.raw_output,
        "error": r.error,
        "attempts": r.attempts,
        "latency_ms": r.latency_ms,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cost_usd": r.cost_usd,
        "trace_id": r.trace_id,
        "trace_url": r.trace_url,
        "expected": json.dumps(r.expected, ensure_ascii=False, default=str),
        "repeat": r.repeat,
    }
    if seq is not None:
        row["seq"] = seq
    return row


def _draft(row: RowMapping) -> Draft:
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
