"""Serve bench: ``prompt-playground serve`` beside a bare FastAPI + instructor endpoint, same load.

Every server is its own process: the fake OpenAI-compatible model (fixed latency, 200 ms by
default), local-langfuse (receives serve's prompt fetches and traces), ``prompt-playground serve``
on the example prompt, and the baseline (``bench.serve_baseline``: the same call, no Langfuse).
The load generator (this process) keeps ``--concurrency`` keep-alive connections busy with
``POST /extract`` of the example sample chats, alternating the targets ``--repeat`` times; the
figures are those of each target's best run (the machine is shared, so the slower run is noise).
Ideal at concurrency 50 and 200 ms: 250 requests/s, p50 = p95 = 200 ms. Run::

    .venv/bin/python -m bench.serve
    .venv/bin/python -m bench.serve --seconds 20 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.engine_procs import (
    CLI,
    PYTHON,
    ROOT,
    Server,
    _tree,
    base_env,
    fake_openai,
    local_langfuse,
    note,
)
from bench.engine_procs import proc_cpu_s as cpu_of
from bench.langfuse_load import Connection
from tests.support.servers import free_port

PROMPT = "chat-extract-feedback"
KEYS = ("pk-lf-bench", "sk-lf-bench")
BASELINE = [PYTHON, "-m", "bench.serve_baseline"]


@dataclass
class Load:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_s: float
    langfuse_cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def post_requests(port: int) -> list[bytes]:
    """One raw ``POST /extract`` per example sample chat."""
    path = ROOT / "src" / "prompt_playground" / "examples" / "sample_chats.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    requests = []
    for row in rows:
        body = json.dumps({"chat_json": row["chat_json"]}).encode()
        head = (
            f"POST /extract HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


async def load(port: int, concurrency: int, seconds: float, warmup: float) -> Load:
    """Keep ``concurrency`` connections busy for ``warmup`` + ``seconds``; count the latter."""
    requests = post_requests(port)
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + seconds

    async def worker(index: int) -> None:
        nonlocal errors
        conn = await Connection.open(port)
        i = index
        try:
            while (sent := time.perf_counter()) < deadline:
                status = await conn.send(requests[i % len(requests)])
                i += 1
                if sent >= measure_from:
                    if status == 200:
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return Load(len(latencies), errors, seconds, latencies, 0.0, 0.0)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live children (local-langfuse's ingest worker)."""
    total = 0.0
    for member in _tree(pid):
        try:
            total += cpu_of(member)
        except OSError:
            continue
    return total


def measured(port: int, pids: list[int], concurrency: int, seconds: float, warmup: float) -> Load:
    before = [tree_cpu_s(pid) for pid in pids]
    result = asyncio.run(load(port, concurrency, seconds, warmup))
    used = [tree_cpu_s(pid) - b for pid, b in zip(pids, before, strict=True)]
    result.server_cpu_s = used[0]
    result.langfuse_cpu_s = sum(used[1:])
    return result


def seed_prompt(langfuse_url: str) -> None:
    from prompt_playground.examples import example_prompt

    spec = example_prompt()
    for version in spec["versions"]:
        response = httpx.post(
            f"{langfuse_url}/api/public/v2/prompts",
            auth=KEYS,
            json={
                "name": spec["name"],
                "type": spec.get("type", "chat"),
                "prompt": version["prompt"],
                "config": version.get("config") or {},
                "labels": version.get("labels") or [],
            },
        )
        response.raise_for_status()


def wait_healthy(server: Server, port: int, what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{what} did not start")


def loadavg() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def row(name: str, result: Load, ideal_rps: float) -> str:
    cpu_ms = 1000 * result.server_cpu_s / max(result.requests, 1)
    lf_ms = 1000 * result.langfuse_cpu_s / max(result.requests, 1)
    lf = f"{lf_ms:.2f}" if result.langfuse_cpu_s else "-"
    return (
        f"| {name} | {result.rps:,.0f} ({result.rps / ideal_rps:.0%}) | "
        f"{result.percentile(0.50):.0f} | {result.percentile(0.95):.0f} | {result.errors} | "
        f"{cpu_ms:.2f} | {lf} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    env = base_env()
    env.update(LANGFUSE_PUBLIC_KEY=KEYS[0], LANGFUSE_SECRET_KEY=KEYS[1])
    servers: list[Server] = []
    try:
        fake = fake_openai(args.latency_ms, env=env, work=work)
        servers.append(fake)
        lf = local_langfuse(free_port(), work / "langfuse.sqlite3", env=env, work=work)
        servers.append(lf)
        seed_prompt(lf.url)
        serve_port, bare_port = free_port(), free_port()
        serve_env = {
            **env,
            "LANGFUSE_BASE_URL": lf.url,
            "OPENAI_BASE_URL": fake.url,
            "OPENAI_API_KEY": "sk-bench",
            "PLAYGROUND_DATA_DIR": str(work / "data"),
        }
        serve = Server(
            [CLI, "serve", "--prompt", PROMPT, "--port", str(serve_port)],
            env=serve_env,
            cwd=ROOT,
            log=work / "serve.log",
        )
        servers.append(serve)
        bare = Server(
            [*BASELINE, "--port", str(bare_port), "--base-url", fake.url],
            env=env,
            cwd=ROOT,
            log=work / "bare.log",
        )
        servers.append(bare)
        wait_healthy(serve, serve_port, "prompt-playground serve")
        wait_healthy(bare, bare_port, "the baseline")

        load_before = loadavg()
        targets = {
            "bare FastAPI + instructor": (bare_port, [bare.proc.pid]),
            "prompt-playground serve": (serve_port, [serve.proc.pid, lf.proc.pid]),
        }
        best: dict[str, Load] = {}
        for attempt in range(args.repeat):
            for name, (port, pids) in targets.items():
                note(f"run {attempt + 1}/{args.repeat}: {name} ...")
                result = measured(port, pids, args.concurrency, args.seconds, args.warmup)
                note(
                    f"  {result.rps:.0f} req/s, p50 {result.percentile(0.5):.0f} ms, "
                    f"p95 {result.percentile(0.95):.0f} ms, {result.errors} errors"
                )
                if name not in best or result.rps > best[name].rps:
                    best[name] = result
        load_after = loadavg()
    finally:
        for server in reversed(servers):
            server.stop()

    ideal = args.concurrency / (args.latency_ms / 1000)
    print(
        f"POST /extract, concurrency {args.concurrency}, model latency {args.latency_ms:g} ms "
        f"(ideal {ideal:.0f} req/s), {args.seconds:g} s per run, best of {args.repeat}; "
        f"load average (1/5/15 min) {load_before} before, {load_after} after"
    )
    print()
    print(
        "| endpoint | requests/s (of ideal) | p50 ms | p95 ms | errors | server CPU ms/req "
        "| local-langfuse CPU ms/req |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, result in best.items():
        print(row(name, result, ideal))
    bare_rps = best["bare FastAPI + instructor"].rps
    serve_rps = best["prompt-playground serve"].rps
    print()
    print(f"serve ÷ bare throughput: {serve_rps / bare_rps:.0%}")
    print(f"logs: {work}")


if __name__ == "__main__":
    main()
