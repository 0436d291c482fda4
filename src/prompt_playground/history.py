"""Label history: who moved which label when (from → to), kept next to the run store.

Langfuse keeps only where a label is now; the app records every promotion it makes so a person
can see the history and roll back in one click. A small SQLite file under ``settings.data_dir``,
or the shared PostgreSQL database (``PLAYGROUND_DATABASE_URL``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text

from prompt_playground.db import Database, is_database_url
from prompt_playground.prompts import Promotion


class Promoter(Protocol):
    """What moves a label (``LangfusePromptStore``)."""

    def promote(self, name: str, version: int, label: str) -> Promotion: ...


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
    """Append-only log of label moves (a SQLite file or the shared PostgreSQL database; safe to
    share between threads)."""

    def __init__(self, target: Path | str) -> None:
        self.path: Path | str = target if is_database_url(target) else Path(target)
        self._db = Database(
            target, what="the label history", script="history", legacy=MIGRATIONS, baseline="h0002"
        )

    def promote(
        self,
        prompts: Promoter,
        prompt_name: str,
        version: int,
        label: str,
        note: str | None = None,
        actor: str | None = None,
    ) -> tuple[Promotion, LabelMove | None]:
        """Move ``label`` to ``version`` and record the move, one promotion at a time.

        Reading the label's holder, moving it and writing the history happen inside one write
        transaction of the history (on PostgreSQL holding a lock on the table that only
        writers take), so two promotions of one label (two sessions, two replicas, or the app
        and the CLI) cannot both read the same "previous version": the second one waits and
        records the version the first one moved the label to. Nothing is recorded when the
        version already held the label.
        """
        with self._db.write() as conn:
            if self._db.dialect == "postgresql":
                conn.execute(text("LOCK TABLE label_moves IN SHARE ROW EXCLUSIVE MODE"))
            promotion = prompts.promote(prompt_name, version, label)
            if not promotion.changed:
                return promotion, None
            move = self._insert(
                conn, prompt_name, label, promotion.previous_version, version, note, actor
            )
        return promotion, move

    def record(
        self,
        prompt_name: str,
        label: str,
        from_version: int | None,
        to_version: int,
        note: str | None = None,
        actor: str | None = None,
    ) -> LabelMove:
        with self._db.write() as conn:
            return self._insert(conn, prompt_name, label, from_version, to_version, note, actor)

    @staticmethod
    def _insert(
        conn: Connection,
        prompt_name: str,
        label: str,
        from_version: int | None,
        to_version: int,
        note: str | None,
        actor: str | None,
    ) -> LabelMove:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        move_id = conn.execute(
            text(
                "INSERT INTO label_moves (at, prompt_name, label, from_version, to_version,"
                " note, actor) VALUES (:at, :prompt_name, :label, :from_version, :to_version,"
                " :note, :actor) RETURNING id"
            ),
            {
                "at": at,
                "prompt_name": prompt_name,
                "label": label,
                "from_version": from_version,
                "to_version": to_version,
                "note": note,
                "actor": actor,
            },
        ).scalar_one()
        return LabelMove(
            int(move_id), at, prompt_name, label, from_version, to_version, note, actor
        )

    def moves(self, prompt_name: str | None = None, limit: int = 200) -> list[LabelMove]:
        """The newest moves first (of one prompt, or of all)."""
        query = "SELECT * FROM label_moves"
        params: dict[str, object] = {"limit": limit}
        if prompt_name is not None:
            query += " WHERE prompt_name = :prompt_name"
            params["prompt_name"] = prompt_name
        query += " ORDER BY id DESC LIMIT :limit"
        rows = self._db.rows(query, params)
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
