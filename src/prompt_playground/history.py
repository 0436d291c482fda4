"""Label history: who moved which label when (from → to), kept next to the run store.

Langfuse keeps only where a label is now; the app records every promotion it makes so a person
can see the history and roll back in one click. A small SQLite file under ``settings.data_dir``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prompt_playground.sqlite import SQLiteFile


def _m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE label_moves (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            prompt_name TEXT NOT NULL,
            label TEXT NOT NULL,
            from_version INTEGER,
            to_version INTEGER NOT NULL,
            note TEXT
        )"""
    )
    conn.execute("CREATE INDEX label_moves_prompt ON label_moves(prompt_name, id)")


def _m002_actor(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE label_moves ADD COLUMN actor TEXT")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m001_initial, _m002_actor]


@dataclass(frozen=True)
class LabelMove:
    """One promotion: ``label`` of ``prompt_name`` moved from ``from_version`` to ``to_version``
    by ``actor`` (who, and from where); ``note`` is the reason given."""

    id: int
    at: str
    prompt_name: str
    label: str
    from_version: int | None
    to_version: int
    note: str | None = None
    actor: str | None = None


class LabelHistory:
    """Append-only log of label moves (SQLite; safe to share between threads)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SQLiteFile(self.path, MIGRATIONS, what="the label history")

    def record(
        self,
        prompt_name: str,
        label: str,
        from_version: int | None,
        to_version: int,
        note: str | None = None,
        actor: str | None = None,
    ) -> LabelMove:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO label_moves (at, prompt_name, label, from_version,"
                " to_version, note, actor) VALUES (?,?,?,?,?,?,?)",
                (at, prompt_name, label, from_version, to_version, note, actor),
            )
            move_id = int(cursor.lastrowid or 0)
        return LabelMove(move_id, at, prompt_name, label, from_version, to_version, note, actor)

    def moves(self, prompt_name: str | None = None, limit: int = 200) -> list[LabelMove]:
        """The newest moves first (of one prompt, or of all)."""
        query = "SELECT * FROM label_moves"
        params: tuple[object, ...] = ()
        if prompt_name is not None:
            query += " WHERE prompt_name = ?"
            params = (prompt_name,)
        query += " ORDER BY id DESC LIMIT ?"
        rows = self._db.rows(query, (*params, limit))
        return [
            LabelMove(
                id=row["id"],
                at=row["at"],
                prompt_name=row["prompt_name"],
                label=row["label"],
                from_version=row["from_version"],
                to_version=row["to_version"],
                note=row["note"],
                actor=row["actor"],
            )
            for row in rows
        ]


def history_path(data_dir: Path) -> Path:
    return Path(data_dir) / "label-history.sqlite3"
