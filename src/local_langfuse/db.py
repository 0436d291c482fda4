"""SQLite storage: one file, WAL, per-thread connections and ordered migrations.

Reads never wait for writers (WAL). Writes are serialised by a process-wide lock plus
``BEGIN IMMEDIATE`` so that read-modify-write sequences (a new prompt version = highest + 1)
are atomic even across processes sharing the file.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path

Migration = Callable[[sqlite3.Connection], None]

# Bounds of each thread's read cache (see Database.cached_read): answers larger than this are
# not kept, and the cache is emptied when it would grow beyond its budget.
CACHE_ITEM_BYTES = 1024 * 1024
CACHE_BUDGET_BYTES = 16 * 1024 * 1024


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run DDL statements inside the open transaction (``executescript`` would commit it)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m001_meta(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS server_meta (key TEXT PRIMARY KEY, value TEXT)")


def _m002_prompts(conn: sqlite3.Connection) -> None:
    # One row per prompt name (type and tags are shared by all its versions), one per version,
    # one per (name, label): a label lives on exactly one version, `latest` included.
    _script(
        conn,
        """
        CREATE TABLE prompt_names (
            name TEXT PRIMARY KEY,
            type TEXT NOT NULL CHECK (type IN ('text', 'chat')),
            tags TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE prompts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL REFERENCES prompt_names(name) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            type TEXT NOT NULL,
            prompt TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            commit_message TEXT,
            created_by TEXT NOT NULL DEFAULT 'API',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (name, version)
        );
        CREATE INDEX prompts_updated ON prompts(updated_at);
        CREATE TABLE prompt_labels (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (name, label),
            FOREIGN KEY (name, version) REFERENCES prompts(name, version) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX prompt_labels_version ON prompt_labels(name, version);
        """,
    )


def _m003_tracing(conn: sqlite3.Connection) -> None:
    # Timestamps are fixed-width ISO text with microseconds ("...T12:00:00.123456Z"), so they
    # sort and compare as text; JSON columns hold the decoded values, input/output raw strings.
    _script(
        conn,
        """
        CREATE TABLE traces (
            id TEXT PRIMARY KEY,
            name TEXT,
            root_name TEXT,
            root_observation_id TEXT,
            timestamp TEXT NOT NULL,
            user_id TEXT,
            session_id TEXT,
            release TEXT,
            version TEXT,
            input TEXT,
            output TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            tags TEXT NOT NULL DEFAULT '[]',
            environment TEXT NOT NULL DEFAULT 'default',
            public INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX traces_timestamp ON traces(timestamp);
        CREATE INDEX traces_session ON traces(session_id);
        CREATE INDEX traces_user ON traces(user_id);
        CREATE TABLE observations (
            id TEXT PRIMARY KEY,
            trace_id TEXT NOT NULL,
            parent_observation_id TEXT,
            type TEXT NOT NULL,
            name TEXT,
            start_time TEXT NOT NULL,
            end_time TEXT,
            completion_start_time TEXT,
            model TEXT,
            model_parameters TEXT,
            input TEXT,
            output TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            usage_details TEXT NOT NULL DEFAULT '{}',
            cost_details TEXT NOT NULL DEFAULT '{}',
            total_cost REAL,
            level TEXT NOT NULL DEFAULT 'DEFAULT',
            status_message TEXT,
            version TEXT,
            environment TEXT NOT NULL DEFAULT 'default',
            prompt_name TEXT,
            prompt_version INTEGER,
            user_id TEXT,
            session_id TEXT,
            is_root INTEGER NOT NULL DEFAULT 0,
            experiment TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX observations_trace ON observations(trace_id, start_time);
        CREATE INDEX observations_start ON observations(start_time, id);
        """,
    )


def _m004_scores(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE scores (
            id TEXT PRIMARY KEY,
            trace_id TEXT,
            observation_id TEXT,
            session_id TEXT,
            dataset_run_id TEXT,
            name TEXT NOT NULL,
            value REAL,
            string_value TEXT,
            data_type TEXT NOT NULL,
            comment TEXT,
            metadata TEXT,
            config_id TEXT,
            queue_id TEXT,
            author_user_id TEXT,
            environment TEXT NOT NULL DEFAULT 'default',
            source TEXT NOT NULL DEFAULT 'API',
            timestamp TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX scores_trace ON scores(trace_id);
        CREATE INDEX scores_session ON scores(session_id);
        CREATE INDEX scores_run ON scores(dataset_run_id);
        CREATE INDEX scores_timestamp ON scores(timestamp, id);
        """,
    )


def _m005_datasets(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT,
            metadata TEXT,
            input_schema TEXT,
            expected_output_schema TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE dataset_items (
            id TEXT PRIMARY KEY,
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'ACTIVE',
            input TEXT,
            expected_output TEXT,
            metadata TEXT,
            source_trace_id TEXT,
            source_observation_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX dataset_items_dataset ON dataset_items(dataset_id, created_at);
        """,
    )


def _m006_dataset_runs_and_item_versions(conn: sqlite3.Connection) -> None:
    # Every write of a dataset item appends its state to dataset_item_versions, so that a read
    # "as of" a time sees items as they were then. Runs group the items an experiment ran on.
    _script(
        conn,
        """
        CREATE TABLE dataset_item_versions (
            item_id TEXT NOT NULL REFERENCES dataset_items(id) ON DELETE CASCADE,
            valid_from TEXT NOT NULL,
            status TEXT NOT NULL,
            input TEXT,
            expected_output TEXT,
            metadata TEXT,
            source_trace_id TEXT,
            source_observation_id TEXT
        );
        CREATE INDEX dataset_item_versions_item ON dataset_item_versions(item_id, valid_from);
        INSERT INTO dataset_item_versions
            SELECT id, created_at, status, input, expected_output, metadata,
                   source_trace_id, source_observation_id
            FROM dataset_items;
        CREATE TABLE dataset_runs (
            id TEXT PRIMARY KEY,
            dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            description TEXT,
            metadata TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (dataset_id, name)
        );
        CREATE TABLE dataset_run_items (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES dataset_runs(id) ON DELETE CASCADE,
            dataset_item_id TEXT NOT NULL,
            trace_id TEXT,
            observation_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX dataset_run_items_run ON dataset_run_items(run_id, created_at);
        """,
    )


def _m007_media(conn: sqlite3.Connection) -> None:
    # Media files (by content hash) live in the database: one file is the whole server state.
    conn.execute(
        """
        CREATE TABLE media (
            id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            content_type TEXT NOT NULL,
            content_length INTEGER NOT NULL,
            content BLOB,
            uploaded_at TEXT,
            upload_status INTEGER,
            created_at TEXT NOT NULL
        )
        """
    )


def _m008_label_order(conn: sqlite3.Connection) -> None:
    # Langfuse keeps a version's labels as an ordered array (given order, then `latest`).
    conn.execute("ALTER TABLE prompt_labels ADD COLUMN position INTEGER NOT NULL DEFAULT 0")
    # A version's labels in their order straight from the index: no sort on the prompt GET path.
    conn.execute("DROP INDEX prompt_labels_version")
    conn.execute(
        "CREATE INDEX prompt_labels_order ON prompt_labels(name, version, position, label)"
    )


# Ordered and append-only: a released migration is never edited, a change is a new entry.
MIGRATIONS: list[Migration] = [
    _m001_meta,
    _m002_prompts,
    _m003_tracing,
    _m004_scores,
    _m005_datasets,
    _m006_dataset_runs_and_item_versions,
    _m007_media,
    _m008_label_order,
]


def _create_private(path: Path) -> None:
    """Create the file (and the folders missing above it) readable by the owner only.

    Existing folders and files keep their modes. SQLite gives the ``-wal`` and ``-shm`` files
    the mode of the database file, so they are private too.
    """
    missing = [folder for folder in [path.parent, *path.parent.parents] if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Database:
    """A SQLite file shared by the server's threads."""

    def __init__(self, path: Path, migrations: list[Migration] | None = None) -> None:
        self.path = Path(path)
        _create_private(self.path)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.migrate(MIGRATIONS if migrations is None else migrations)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        with self._all_lock:
            self._all.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use :meth:`write` for transactions)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A serialised write transaction (``BEGIN IMMEDIATE``), committed on success."""
        conn = self.conn
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def cached_read(self, key: Hashable, read: Callable[[sqlite3.Connection], bytes]) -> bytes:
        """``read(conn)``, or its earlier answer if nothing was written to the file since.

        "Nothing written" is SQLite's own word for it: ``PRAGMA data_version`` changes when any
        other connection (another thread's, another process's) commits, and the connection's
        ``total_changes`` when it writes itself. The pair is read *before* the query, so a
        kept answer is never older than the state it is filed under. One cache per thread,
        like the connections; exceptions (a 404) are not kept.
        """
        conn = self.conn
        local = self._local
        token = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
        cache: dict[Hashable, bytes] | None = getattr(local, "cache", None)
        if cache is None or local.cache_token != token:
            cache = local.cache = {}
            local.cache_token = token
            local.cache_bytes = 0
        answer = cache.get(key)
        if answer is None:
            answer = read(conn)
            if len(answer) <= CACHE_ITEM_BYTES:
                if local.cache_bytes + len(answer) > CACHE_BUDGET_BYTES:
                    cache.clear()
                    local.cache_bytes = 0
                cache[key] = answer
                local.cache_bytes += len(answer)
        return answer

    def schema_version(self) -> int:
        row = self.conn.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def migrate(self, migrations: list[Migration]) -> None:
        """Apply the migrations this file has not seen yet, all in one transaction."""
        with self.write() as conn:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for index, migration in enumerate(migrations[current:], start=current + 1):
                migration(conn)
                conn.execute(f"PRAGMA user_version = {index}")

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
