"""One storage layer for the run store and the label history, on SQLite or PostgreSQL.

SQLAlchemy Core speaks both dialects; Alembic migrates both (``migrations/runs`` and
``migrations/history``, each with its own version table, so on PostgreSQL both live in one
database). A target is either a file path (the embedded default: one SQLite file per store, WAL,
0600, a process-wide lock serialising writes like SQLite's own) or a ``postgresql://`` URL (a
pooled engine per URL, shared by every store of the process; several processes and hosts write
at once).

SQLite files made before Alembic counted their migrations in ``PRAGMA user_version``: they are
brought to the last of those legacy migrations, stamped with the matching Alembic baseline, then
upgraded like any other database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from prompt_playground.errors import RunStoreError
from prompt_playground.sqlite import private_file

LegacyMigration = Callable[[sqlite3.Connection], None]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def is_database_url(target: Path | str) -> bool:
    """A PostgreSQL URL (``postgresql://`` or ``postgresql+psycopg://``), not a file path."""
    return isinstance(target, str) and target.split(":", 1)[0] in (
        "postgresql",
        "postgresql+psycopg",
        "postgres",
    )


def mask_url(url: str) -> str:
    """The URL as it may be shown: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable database URL)"


def _driver_url(url: str) -> str:
    scheme, rest = url.split(":", 1)
    if scheme in ("postgresql", "postgres"):
        scheme = "postgresql+psycopg"
    return f"{scheme}:{rest}"


def _scrub(message: str, url: str | None) -> str:
    """A driver's message with the URL's password taken out (should a driver ever echo it)."""
    if url:
        try:
            password = make_url(url).password
        except ArgumentError:
            password = None
        if password:
            message = message.replace(str(password), "***")
    return message


def _postgres_engine(url: str) -> Engine:
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            try:
                engine = create_engine(
                    _driver_url(url),
                    # Many runs write at once (a run's concurrency is up to 256); a connection
                    # is held only for one short transaction.
                    pool_size=10,
                    max_overflow=40,
                    pool_pre_ping=True,
                    hide_parameters=True,
                    # Commits are visible to every replica at once and flushed to disk by the
                    # WAL writer within a fraction of a second, as SQLite's WAL with
                    # synchronous=NORMAL (the embedded store) does: a crash of an app replica
                    # loses nothing, one of the database server at most its last instant of
                    # writes. Writers of one run queue on the run's row; waiting for an fsync
                    # each would cap a run at a few hundred results a second.
                    connect_args={"options": "-c synchronous_commit=off"},
                )
            except (ArgumentError, SQLAlchemyError, ImportError) as exc:
                raise RunStoreError(
                    f"PLAYGROUND_DATABASE_URL is not a usable database URL "
                    f"({mask_url(url)}): {_scrub(str(exc), url)}"
                ) from exc
            _engines[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections of a PostgreSQL URL (a later store opens a new pool)."""
    with _engines_lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30.0, "check_same_thread": False},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # pysqlite's own transaction handling is switched off; "begin" below says BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writes take the write lock up front (no upgrade deadlock between two writers).
        write = conn.get_execution_options().get("playground_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """A store's database: ``target`` is a SQLite file path or a PostgreSQL URL.

    ``what`` names it for people ("the run store"); ``script`` is the Alembic script directory
    under ``migrations/``; ``legacy`` are the ``user_version`` migrations SQLite files were made
    with, and ``baseline`` the Alembic revision equal to all of them applied.
    """

    def __init__(
        self,
        target: Path | str,
        *,
        what: str,
        script: str,
        legacy: Sequence[LegacyMigration],
        baseline: str,
    ) -> None:
        self.what = what
        self._url: str | None = None
        self._lock = threading.Lock()
        if is_database_url(target):
            assert isinstance(target, str)
            self._url = target
            self.where = mask_url(target)
            self.dialect = "postgresql"
            self.engine = _postgres_engine(target)
        else:
            path = Path(target)
            self.where = str(path)
            self.dialect = "sqlite"
            try:
                private_file(path)
            except OSError as exc:
                raise RunStoreError(
                    f"Cannot create the data directory {path.parent} ({what}): {exc}"
                ) from exc
            self.engine = _sqlite_engine(path)
        self._writer = self.engine.execution_options(playground_write=True)
        self._migrate(script, legacy, baseline)

    # -- migrations --------------------------------------------------------------------------

    def _migrate(self, script: str, legacy: Sequence[LegacyMigration], baseline: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR / script))
        config.attributes["version_table"] = f"alembic_version_{script}"
        try:
            # On SQLite the write engine: BEGIN IMMEDIATE, so two processes opening a new file
            # at once queue up instead of failing to upgrade a read lock.
            with self._writer.connect() as conn:
                config.attributes["connection"] = conn
                if self.dialect == "postgresql":
                    # Replicas starting together: one migrates, the others wait, then find
                    # nothing left to do.
                    conn.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": script})
                    conn.commit()
                    try:
                        command.upgrade(config, "head")
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": script})
                        conn.commit()
                else:
                    self._adopt_legacy_sqlite(conn, config, legacy, baseline)
                    command.upgrade(config, "head")
                    # Older releases read user_version: they see every migration they know.
                    conn.exec_driver_sql(f"PRAGMA user_version = {len(legacy)}")
                    conn.commit()
        except SQLAlchemyError as exc:
            raise self.error("open", exc) from exc

    @staticmethod
    def _adopt_legacy_sqlite(
        conn: Connection, config: Config, legacy: Sequence[LegacyMigration], baseline: str
    ) -> None:
        """A file from before Alembic: finish its legacy migrations, stamp the baseline."""
        table = config.attributes["version_table"]
        names = {
            row[0]
            for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        }
        conn.commit()
        if table in names or not names:
            return  # already on Alembic, or a new file
        version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
        conn.commit()
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute("BEGIN IMMEDIATE")
        try:
            for index, migration in enumerate(legacy[version:], start=version + 1):
                migration(raw)
                raw.execute(f"PRAGMA user_version = {index}")
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")
        command.stamp(config, baseline)

    # -- use ---------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, committed on success (serialised per file on SQLite)."""
        if self.dialect == "sqlite":
            with self._lock, self._transaction("write") as conn:
                yield conn
        else:
            with self._transaction("write") as conn:
                yield conn

    @contextmanager
    def _transaction(self, verb: str) -> Iterator[Connection]:
        try:
            with self._writer.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self.error(verb, exc) from exc

    def rows(self, query: str, params: Mapping[str, Any] | None = None) -> list[RowMapping]:
        """Every row of a read query (a short read transaction)."""
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(text(query), dict(params or {})).mappings())
        except SQLAlchemyError as exc:
            raise self.error("read", exc) from exc

    def stream(
        self, query: str, params: Mapping[str, Any] | None = None, *, batch: int = 1000
    ) -> Iterator[RowMapping]:
        """The rows of a read query one by one, fetched ``batch`` at a time (a server-side
        cursor on PostgreSQL), so a 30,000-result run is never held twice in memory."""
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=batch).execute(
                    text(query), dict(params or {})
                )
                yield from result.mappings()
        except SQLAlchemyError as exc:
            raise self.error("read", exc) from exc

    def error(self, verb: str, exc: SQLAlchemyError) -> RunStoreError:
        """The store's error for a failed read or write, with no password in it."""
        cause = getattr(exc, "orig", None) or exc
        return RunStoreError(
            f"Cannot {verb} {self.what} {self.where}: {_scrub(str(cause), self._url)}"
        )


def run_alembic_env() -> None:
    """The body of each migrations ``env.py``: migrate on the connection :class:`Database` gave."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=context.config.attributes["version_table"],
        render_as_batch=True,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
