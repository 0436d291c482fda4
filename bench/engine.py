"""Engine bench: the real ``prompt-playground run`` CLI against two baselines, same calls.

Every runner is its own process, timed from spawn to exit (start-up included), its CPU and peak
RSS taken from ``os.wait4``. The OpenAI-compatible fake server (fixed latency) runs in its own
process too, so it never takes the client's CPU.

- ``cli``: ``prompt-playground run`` with the embedded local-langfuse (in-process: it also
  ingests the traces, so its CPU is in the CLI's figure).
- ``(a) bare``: asyncio + openai + instructor, no tracing (``bench.engine_baselines bare``).
- ``(b) traced``: the same through ``langfuse.openai`` with ``langfuse_prompt=`` linking, exporting
  to a local-langfuse in a separate process; that server's CPU is added in the ``+lf`` column.

Regimes: model-bound (1,000 ms latency), client-bound (200 ms), 500 samples × 2 variants at
concurrency 50. Per-call CPU is marginal: (CPU of the full run − CPU of a 25-sample run) /
(calls − 50), so start-up cost is not spread over the calls. Memory: 10,000 samples × 3 variants
through the CLI at low latency; ``RSS MB`` is the largest single process (``ru_maxrss``), ``tree``
the peak of the summed RSS of the process and its children (local-langfuse's ingest worker).
Profile of the CLI's per-call CPU: ``python -m bench.engine_profile``. Run::

    .venv/bin/python -m bench.engine                 # everything (~4-5 min on 2 busy cores)
    .venv/bin/python -m bench.engine --repeat 2      # fastest of 2 per runner (less noise)
    .venv/bin/python -m bench.engine --skip-rss      # the two regimes and the CPU figures only
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.engine_procs import (
    CLI,
    PYTHON,
    ROOT,
    Measured,
    Server,
    base_env,
    fake_openai,
    fresh_copy,
    local_langfuse,
    measure,
    note,
)
from tests.support.servers import free_port

PROMPT = "chat-extract-feedback"
EXAMPLES = ROOT / "src" / "prompt_playground" / "examples"
SMALL_SAMPLES = 25


@dataclass
class Row:
    scenario: str
    runner: str
    calls: int
    measured: Measured
    errors: int
    ideal_s: float | None = None
    server_cpu_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def total_cpu_s(self) -> float:
        return self.measured.cpu_s + self.server_cpu_s


def write_samples(path: Path, n: int) -> Path:
    """``n`` rows cycling the shipped example chats, each with a unique id."""
    with (EXAMPLES / "sample_chats.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    for i in range(n):
        writer.writerow({**rows[i % len(rows)], "id": f"s{i:05d}"})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def count_errors(out_csv: Path) -> int:
    with out_csv.open(encoding="utf-8", newline="") as handle:
        return sum(1 for row in csv.DictReader(handle) if row.get("error"))


class Bench:
    def __init__(self, work: Path, concurrency: int) -> None:
        self.work = work
        self.concurrency = concurrency
        self.env = base_env()
        self.fakes: dict[float, Server] = {}
        self.template = work / "cli-data-template"
        self.lf: Server | None = None
        self.counter = 0

    def fake(self, latency_ms: float) -> str:
        if latency_ms not in self.fakes:
            self.fakes[latency_ms] = fake_openai(latency_ms, env=self.env, work=self.work)
        return self.fakes[latency_ms].url

    def close(self) -> None:
        for server in [*self.fakes.values(), *([self.lf] if self.lf else [])]:
            server.stop()

    # -- runners -------------------------------------------------------------------------------

    def cli(
        self,
        samples: Path,
        latency_ms: float,
        *,
        concurrency: int | None = None,
        extra_variants: tuple[str, ...] = (),
        data_dir: Path | None = None,
    ) -> tuple[Measured, int, int]:
        self.counter += 1
        data = data_dir or fresh_copy(self.template, self.work / f"cli-data-{self.counter}")
        out = self.work / f"cli-out-{self.counter}.csv"
        env = {
            **self.env,
            "PLAYGROUND_DATA_DIR": str(data),
            "OPENAI_BASE_URL": self.fake(latency_ms),
            "OPENAI_API_KEY": "x",
        }
        cmd = [
            CLI,
            "run",
            "--prompt",
            PROMPT,
            "--label",
            "production",
            "--label",
            "staging",
            *extra_variants,
            "--samples",
            str(samples),
            "--out",
            str(out),
            "--concurrency",
            str(concurrency or self.concurrency),
            "--quiet",
        ]
        m = measure(cmd, env=env, cwd=self.work, log=self.work / f"cli-{self.counter}")
        done = re.search(r": (\w+), (\d+)/(\d+) results", m.stdout)
        if m.returncode != 0 or done is None or done.group(1) != "completed":
            raise RuntimeError(f"CLI run failed ({m.returncode}):\n{m.stdout[-2000:]}\n{m.stderr}")
        return m, int(done.group(2)), count_errors(out)

    def seed_template(self, samples: Path, latency_ms: float) -> None:
        """One first CLI run creates the data dir (example prompt seeded); later runs copy it."""
        self.cli(samples, latency_ms, data_dir=self.template)

    def langfuse_server(self) -> str:
        if self.lf is None:
            port = free_port()
            self.lf = local_langfuse(port, self.work / "lf-b.sqlite3", env=self.env, work=self.work)
            sync = measure(
                [CLI, "sync", str(EXAMPLES / "chat_extract_feedback.yaml")],
                env={
                    **self.env,
                    "LANGFUSE_BASE_URL": self.lf.url,
                    "LANGFUSE_PUBLIC_KEY": "pk-lf-local",
                    "LANGFUSE_SECRET_KEY": "sk-lf-local",
                    "PLAYGROUND_DATA_DIR": str(self.work / "sync-data"),
                },
                cwd=self.work,
                log=self.work / "sync",
            )
            if sync.returncode != 0:
                raise RuntimeError(f"sync failed: {sync.stdout}{sync.stderr}")
        return self.lf.url

    def baseline(
        self, kind: str, samples: Path, latency_ms: float
    ) -> tuple[Measured, int, int, float]:
        self.counter += 1
        cmd = [
            PYTHON,
            "-m",
            "bench.engine_baselines",
            kind,
            "--base-url",
            self.fake(latency_ms),
            "--samples",
            str(samples),
            "--concurrency",
            str(self.concurrency),
        ]
        server_cpu_before = 0.0
        if kind == "traced":
            cmd += ["--langfuse-url", self.langfuse_server()]
            assert self.lf is not None
            server_cpu_before = self.lf.cpu_s()
        m = measure(cmd, env=self.env, cwd=ROOT, log=self.work / f"{kind}-{self.counter}")
        if m.returncode != 0:
            raise RuntimeError(f"baseline {kind} failed:\n{m.stdout}\n{m.stderr[-3000:]}")
        server_cpu = 0.0
        if kind == "traced":
            assert self.lf is not None
            time.sleep(1.0)  # the last export batch is ingested after the client exits
            server_cpu = self.lf.cpu_s() - server_cpu_before
        result = json.loads(m.stdout.strip().splitlines()[-1])
        return m, int(result["calls"]), int(result["errors"]), server_cpu

    def run(
        self, runner: str, scenario: str, samples: Path, latency_ms: float, ideal: float | None
    ) -> Row:
        note(f"  {scenario}: {runner} ...")
        if runner == "cli":
            m, calls, errors = self.cli(samples, latency_ms)
            row = Row(scenario, runner, calls, m, errors, ideal)
        else:
            kind = "bare" if runner == "(a) bare" else "traced"
            m, calls, errors, server_cpu = self.baseline(kind, samples, latency_ms)
            row = Row(scenario, runner, calls, m, errors, ideal, server_cpu)
        note(
            f"    wall {m.wall_s:.2f}s cpu {m.cpu_s:.2f}s"
            f" (+lf {row.server_cpu_s:.2f}s) calls {calls}"
        )
        return row


RUNNERS = ("cli", "(a) bare", "(b) traced")


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row], marginal: dict[str, dict[str, float]]) -> str:
    by = {(r.scenario, r.runner): r for r in rows}
    head = (
        f"{'scenario':<22}{'runner':<12}{'calls':>7}{'err':>5}{'wall s':>8}{'ideal':>7}"
        f"{'×ideal':>8}{'×(b)':>7}{'×(a)':>7}{'CPU s':>8}{'+lf s':>7}{'ms/call':>9}"
        f"{'RSS MB':>8}{'tree':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        b = by.get((r.scenario, "(b) traced"))
        a = by.get((r.scenario, "(a) bare"))
        ratio_ideal = r.measured.wall_s / r.ideal_s if r.ideal_s else None
        vs_b = r.measured.wall_s / b.measured.wall_s if b and r.runner != "(b) traced" else None
        vs_a = r.measured.wall_s / a.measured.wall_s if a and r.runner != "(a) bare" else None
        per_call = r.total_cpu_s / r.calls * 1000 if r.calls else None
        lines.append(
            f"{r.scenario:<22}{r.runner:<12}{r.calls:>7}{r.errors:>5}{r.measured.wall_s:>8.2f}"
            f"{fmt(r.ideal_s, '.1f'):>7}{fmt(ratio_ideal):>8}{fmt(vs_b):>7}{fmt(vs_a):>7}"
            f"{r.measured.cpu_s:>8.2f}{r.server_cpu_s:>7.2f}{fmt(per_call):>9}"
            f"{r.measured.peak_rss_mb:>8.0f}{r.measured.peak_tree_rss_mb:>6.0f}"
        )
    if marginal:
        lines += ["", "Marginal CPU per call (start-up excluded; client + its Langfuse ingestion):"]
        for runner, figures in marginal.items():
            lines.append(
                f"  {runner:<12}{figures['ms_per_call']:>6.2f} ms/call"
                f"   (start-up ≈ {figures['startup_cpu_s']:.2f} s CPU)"
            )
        if "cli" in marginal and "(b) traced" in marginal:
            added = marginal["cli"]["ms_per_call"] - marginal["(b) traced"]["ms_per_call"]
            lines.append(f"  project adds {added:+.2f} ms CPU/call over (b)  (target < 1 ms)")
        if "(b) traced" in marginal and "(a) bare" in marginal:
            tracing = marginal["(b) traced"]["ms_per_call"] - marginal["(a) bare"]["ms_per_call"]
            lines.append(f"  tracing costs  {tracing:+.2f} ms CPU/call ((b) − (a))")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--model-latency-ms", type=float, default=1000)
    parser.add_argument("--client-latency-ms", type=float, default=200)
    parser.add_argument("--rss-samples", type=int, default=10_000)
    parser.add_argument("--rss-latency-ms", type=float, default=20)
    parser.add_argument("--rss-concurrency", type=int, default=100)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per runner and regime; the fastest is shown"
    )
    parser.add_argument("--skip-model", action="store_true", help="skip the 1,000 ms regime")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 10,000 × 3 run")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    note(f"work dir {work}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    bench = Bench(work, args.concurrency)
    rows: list[Row] = []
    marginal: dict[str, dict[str, float]] = {}
    calls = args.samples * 2
    try:
        small = write_samples(work / f"samples-{SMALL_SAMPLES}.csv", SMALL_SAMPLES)
        samples = write_samples(work / f"samples-{args.samples}.csv", args.samples)
        note("seeding the CLI's data dir (first run, not measured)")
        bench.seed_template(small, args.client_latency_ms)

        regimes = []
        if not args.skip_model:
            regimes.append(("model-bound 1000ms", args.model_latency_ms))
        regimes.append(("client-bound 200ms", args.client_latency_ms))
        for name, latency in regimes:
            ideal = calls / args.concurrency * latency / 1000
            for runner in RUNNERS:
                runs = [
                    bench.run(runner, name, samples, latency, ideal) for _ in range(args.repeat)
                ]
                rows.append(min(runs, key=lambda r: r.measured.wall_s))

        note("start-up cost: 25 samples × 2 at the client-bound latency")
        client_rows = {r.runner: r for r in rows if r.scenario.startswith("client-bound")}
        for runner in RUNNERS:
            runs = [
                bench.run(
                    runner, f"start-up {SMALL_SAMPLES}×2", small, args.client_latency_ms, None
                )
                for _ in range(args.repeat)
            ]
            row = min(runs, key=lambda r: r.measured.wall_s)
            rows.append(row)
            big = client_rows[runner]
            per_call = (big.total_cpu_s - row.total_cpu_s) / (big.calls - row.calls)
            marginal[runner] = {
                "ms_per_call": per_call * 1000,
                "startup_cpu_s": row.total_cpu_s - per_call * row.calls,
            }

        if not args.skip_rss:
            rss_samples = write_samples(work / f"samples-{args.rss_samples}.csv", args.rss_samples)
            note(f"memory: {args.rss_samples} samples × 3 variants through the CLI")
            started = time.perf_counter()
            m, done, errors = bench.cli(
                rss_samples,
                args.rss_latency_ms,
                concurrency=args.rss_concurrency,
                extra_variants=("--version", "1"),
            )
            note(f"    wall {time.perf_counter() - started:.1f}s")
            rows.append(
                Row(f"rss {args.rss_samples}×3 {args.rss_latency_ms:g}ms", "cli", done, m, errors)
            )
    finally:
        bench.close()
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    print(
        f"Engine bench: {args.samples} samples × 2 variants, concurrency {args.concurrency}; "
        f"load average at end {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    print(table(rows, marginal))


if __name__ == "__main__":
    main()
