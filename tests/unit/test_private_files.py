"""The run store and the label history hold customer chats: created readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from prompt_playground.history import LabelHistory
from prompt_playground.runstore import RunRecord, RunStore


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual 022 umask: without care, new files come out 0644 and directories 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_run_store_directory_and_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "runs.sqlite3"
    store = RunStore(path)
    store.create_run(RunRecord(id="r1", prompt_name="p", variants=["production"], total=0), [])
    assert mode(tmp_path / "data") == 0o700
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists()
    assert mode(wal) == 0o600


def test_the_label_history_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "label-history.sqlite3"
    LabelHistory(path).record("p", "production", 1, 2)
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600


def test_an_existing_directory_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    RunStore(shared / "runs.sqlite3")
    assert mode(shared) == 0o750
    assert mode(shared / "runs.sqlite3") == 0o600
