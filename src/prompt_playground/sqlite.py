"""Private SQLite files: the data directory 0700, each database file 0600 (``db.py`` opens them)."""

from __future__ import annotations

import os
from pathlib import Path


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
