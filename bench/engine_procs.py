"""Process plumbing for the engine bench: servers in their own processes, children measured alone.

``measure`` spawns one command and reaps it with ``os.wait4``, which returns that child's own
rusage (with its reaped children's, e.g. local-langfuse's ingest worker): CPU (user + system), so
figures never mix with the bench's. Memory is the peak of the process tree's summed RSS, polled
from /proc every 50 ms (a worker process counts too; ``ru_maxrss`` is only the largest process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
CLI = str(ROOT / ".venv" / "bin" / "prompt-playground")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    """One child process: wall time from spawn to exit, its CPU and its peak RSS."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def measure(cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Measured:
    """Run ``cmd`` to completion; stdout/stderr go to files so a full pipe never stalls it."""
    out_path, err_path = log.with_suffix(".out"), log.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        poller = TreeRss(proc.pid)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        peak_tree = poller.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        peak_tree_rss_mb=max(peak_tree, usage.ru_maxrss / 1024),
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


class TreeRss:
    """Polls the summed RSS of a process and its descendants until stopped; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        self._pid = pid
        self._interval = interval_s
        self._done = threading.Event()
        self.peak_mb = 0.0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(self._interval):
            self.peak_mb = max(self.peak_mb, sum(map(_rss_mb, _tree(self._pid))))

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.peak_mb


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def proc_cpu_s(pid: int) -> float:
    """CPU seconds a running process has used so far (for servers measured around a run)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Server:
    """A server child process that prints ``READY <url>`` (or a known line) when listening."""

    def __init__(self, cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        self.url = ""

    def wait_ready(self, timeout: float = 60.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY "):
                self.url = line.split(None, 1)[1].strip()
                return self.url
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"server did not start: {' '.join(self.proc.args)}")  # type: ignore[arg-type]

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def fake_openai(latency_ms: float, *, env: dict[str, str], work: Path) -> Server:
    server = Server(
        [
            PYTHON,
            "-m",
            "tests.support.fake_openai",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--no-history",
        ],
        env=env,
        cwd=ROOT,
        log=work / f"fake-openai-{latency_ms:g}ms.log",
    )
    server.wait_ready()
    return server


def local_langfuse(port: int, db: Path, *, env: dict[str, str], work: Path) -> Server:
    """``prompt-playground local-langfuse`` in its own process; ready once health answers."""
    import httpx

    server = Server(
        [CLI, "local-langfuse", "--port", str(port), "--db", str(db)],
        env=env,
        cwd=ROOT,
        log=work / "local-langfuse.log",
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/public/health", timeout=1).status_code == 200:
                server.url = url
                return server
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None:
            break
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"local-langfuse did not start; see {work / 'local-langfuse.log'}")


def fresh_copy(template: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)
    return target


def base_env() -> dict[str, str]:
    """The environment without any LANGFUSE_/OPENAI_/PLAYGROUND_ settings leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "OPENAI_", "PLAYGROUND_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
