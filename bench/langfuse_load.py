"""Load generator for the local-langfuse bench, run in its own process; prints JSON results.

A minimal asyncio HTTP/1.1 keep-alive client on raw sockets: far cheaper per request than
httpx, so one process can saturate a one-worker uvicorn server without being the bottleneck
(the result reports the client's own CPU use to show it).

    python -m bench.langfuse_load get  --port P --path /api/... --concurrency 20 --seconds 5
    python -m bench.langfuse_load otlp --port P --batch 512 --requests 30 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import resource
import statistics
import time
from typing import Any

from bench.langfuse_otlp import export_body

OTLP_PATH = "/api/public/otel/v1/traces"


class Connection:
    """One keep-alive connection that sends a request and reads the whole response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def _auth(public_key: str, secret_key: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{public_key}:{secret_key}".encode())


def get_request(port: int, path: str, auth: bytes) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n".encode()
        + b"Authorization: "
        + auth
        + b"\r\n\r\n"
    )


def otlp_request(port: int, body: bytes, auth: bytes) -> bytes:
    head = (
        f"POST {OTLP_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + b"Authorization: " + auth + b"\r\n\r\n" + body


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_get(
    port: int, path: str, auth: bytes, concurrency: int, seconds: float, warmup: float
) -> dict[str, Any]:
    request = get_request(port, path, auth)
    latencies: list[float] = []
    errors = 0
    total = 0
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + seconds

    async def worker() -> None:
        nonlocal errors, total
        conn = await Connection.open(port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= deadline:
                    return
                status = await conn.send(request)
                done = time.perf_counter()
                total += 1
                if sent >= measure_from:
                    if status == 200:
                        latencies.append(done - sent)
                    else:
                        errors += 1
        finally:
            conn.close()

    cpu_before = _cpu()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu = _cpu() - cpu_before
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "total_requests": total,
        "errors": errors,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies) if latencies else float("nan"),
        "client_cpu": cpu / elapsed,
    }


async def run_otlp(
    port: int, auth: bytes, batch: int, requests: int, seconds: float, ready: bool = False
) -> dict[str, Any]:
    """Send up to ``requests`` bodies one after the other (as one SDK exporter does).

    The bodies are built first; with ``ready`` a line ``ready`` is printed once they are.
    """
    bodies = [otlp_request(port, export_body(batch), auth) for _ in range(requests)]
    if ready:
        print("ready", flush=True)
    conn = await Connection.open(port)
    statuses: dict[int, int] = {}
    sent_spans = 0
    start = time.perf_counter()
    try:
        for body in bodies:
            status = await conn.send(body)
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                sent_spans += batch
            if time.perf_counter() - start > seconds:
                break
    finally:
        conn.close()
    elapsed = time.perf_counter() - start
    return {
        "spans": sent_spans,
        "seconds": elapsed,
        "spans_per_s": sent_spans / elapsed,
        "statuses": statuses,
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["get", "otlp"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--public-key", default="pk-lf-bench")
    parser.add_argument("--secret-key", default="sk-lf-bench")
    parser.add_argument("--path", default="/")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--ready", action="store_true", help="print 'ready' before sending")
    args = parser.parse_args()
    auth = _auth(args.public_key, args.secret_key)
    if args.mode == "get":
        result = asyncio.run(
            run_get(args.port, args.path, auth, args.concurrency, args.seconds, args.warmup)
        )
    else:
        result = asyncio.run(
            run_otlp(args.port, auth, args.batch, args.requests, args.seconds, args.ready)
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
