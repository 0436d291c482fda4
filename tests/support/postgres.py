"""A throwaway PostgreSQL cluster for tests: Debian's ``initdb``/``pg_ctl`` in a temp dir.

The cluster listens on 127.0.0.1 on a free port and on a unix socket in its temp dir; it is
stopped and removed at the end. ``initdb`` refuses to run as root, so as root the cluster runs
as the ``postgres`` system user the Debian package creates (``runuser -u postgres --``), its
temp dir chowned to it. Each test asks for a fresh database (``new_database``), so tests never
see each other's rows.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.support.servers import free_port


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed: `make postgresql` installs Debian's postgresql package."
        )
    return Path(candidates[-1]).parent


@dataclass
class PostgresCluster:
    port: int
    socket_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')  # faster here
        return self.url(name)


@dataclass
class Backend:
    """Where a store lives in one test: SQLite files in a temp dir, or a new PostgreSQL database
    (then every store of the test, run store and label history alike, shares it)."""

    name: str
    directory: Path
    url: str | None = None

    def target(self, file_name: str) -> Path | str:
        return self.url if self.url is not None else self.directory / file_name


@contextmanager
def postgres_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    """Start a cluster; ``durable`` keeps PostgreSQL's default fsync on commit (for the bench)."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="pg-test-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, sockets, log = root / "data", root / "sock", root / "postgres.log"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, cwd=root)

    try:
        run("mkdir", "-m", "0700", str(sockets))
        # Trust on a cluster only this test session reaches; UTF8 and C whatever the locale.
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
        run(*initdb, "-E", "UTF8", "--locale=C", "--no-sync")

        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:  # a throwaway cluster need not survive a power cut
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr or exc.stdout}") from exc
    try:
        yield PostgresCluster(port=port, socket_dir=sockets)
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)
