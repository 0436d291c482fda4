"""One SQLite file shared by the app's threads: WAL, a connection per thread, serialised write
transactions, and ordered, append-only migrations (``PRAGMA user_version`` counts them)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prompt_playground.errors import RunStoreError

Migration = Callable[[sqlite3.Connection], None]


def private_dir(directory: Path) -> None:
    """Create ``directory`` and its missing parents as 0700; an existing one is left alone."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        os.chmod(new, 0o700)  # mkdir's mode is masked by the umask


def private_file(path: Path) -> None:
    """Create ``path``'s directory (0700) and the empty file (0600) when they do not exist yet.

    The run store and the label history hold customer chats and model outputs: nobody else on
    the machine should read them. Existing directories and files keep the mode their owner chose;
    SQLite gives its ``-wal``/``-shm`` files the mode of the database file.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


class SQLiteFile:
    """``what`` names the file for people ("the run store") in error messages."""

    def __init__(self, path: Path, migrations: Sequence[Migration], *, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._local = threading.local()
        self._lock = threading.Lock()
        try:
            private_file(self.path)
        except OSError as exc:
            raise RunStoreError(
                f"Cannot create the data directory {self.path.parent} ({what}): {exc}"
            ) from exc
        with self.write() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            for index, migration in enumerate(migrations[version:], start=version + 1):
                migration(conn)
                conn.execute(f"PRAGMA user_version = {index}")

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; use :meth:`write` for transactions)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise RunStoreError(f"Cannot open {self.what} {self.path}: {exc}") from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A serialised write transaction (``BEGIN IMMEDIATE``), committed on success."""
        conn = self.conn
        with self._lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise RunStoreError(f"Cannot write {self.what} {self.path}: {exc}") from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise RunStoreError(f"Cannot read {self.what} {self.path}: {exc}") from exc
