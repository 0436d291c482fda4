"""Where the CLI's CPU goes: py-spy (GIL holder, all threads) over one ``prompt-playground run``.

Samples are split into start-up/teardown (the main thread outside the workers), the per-call path
(inside the runner's workers) and background threads (span export, the embedded local-langfuse
ingesting them); the per-call path is broken down by the package of the innermost frame, as
ms of CPU per call (the share of samples × the child's measured CPU / calls). Needs ``py-spy``::

    .venv/bin/python -m bench.engine_profile --samples 500 --latency-ms 200
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import tempfile
from pathlib import Path

from bench.engine_procs import CLI, ROOT, base_env, fake_openai, measure, note

WORKER = "Runner.run.<locals>.worker (prompt_playground/runner.py"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^:)]*)(?::\d+)?\)$")
PACKAGES = (
    "prompt_playground",
    "local_langfuse",
    "langfuse",
    "opentelemetry",
    "instructor",
    "openai",
    "httpx2",
    "httpcore2",
    "h11",
    "anyio",
    "pydantic",
    "pydantic_core",
    "tenacity",
    "wrapt",
    "asyncio",
    "json",
    "sqlite3",
)


def package(frame: str) -> str:
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    head = path.split("/", 1)[0]
    if head.endswith(".py"):
        head = head[:-3]
    for name in PACKAGES:
        if head == name or path.startswith(name + "/"):
            return name
    return "other" if head else "native"


def leaf_file(frame: str) -> str:
    match = _FRAME.match(frame)
    return match.group("file") if match else frame


def thread_owner(frames: list[str]) -> str:
    """Which background work a thread's sample belongs to."""
    text = ";".join(frames)
    if "local_langfuse/" in text:
        return "embedded local-langfuse"
    if "Exporter" in text or "BatchProcessor" in text:
        return "span export (langfuse SDK)"
    if "MediaManager" in text or "MediaUpload" in text:
        return "langfuse media scan"
    if "Langfuse.flush" in text or "_worker (concurrent" in text:
        return "flush / to_thread"
    return "other: " + function(frames[min(3, len(frames) - 1)])


def function(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def analyse(raw: Path, cpu_s: float, calls: int, top: int = 15) -> str:
    phases: collections.Counter[str] = collections.Counter()
    leaf_pkg: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = stack.split(";")
        if frames[0].startswith("Thread._bootstrap"):
            phases["background threads"] += n
            threads[thread_owner(frames)] += n
        elif any(f.startswith(WORKER) for f in frames):
            phases["per-call (workers)"] += n
            leaf = package(frames[-1])
            leaf_pkg[leaf if leaf != "other" else f"other: {leaf_file(frames[-1])}"] += n
            for f in {function(f) for f in frames[frames.index(_first(frames, WORKER)) + 1 :]}:
                inclusive[f] += n
        else:
            phases["start-up / teardown (main)"] += n
    ms = cpu_s * 1000 / total if total else 0.0  # ms of CPU per sample
    lines = [f"{total} samples, {cpu_s:.2f} s CPU, {calls} calls"]
    for phase, n in phases.most_common():
        lines.append(f"  {phase:<30}{n / total:6.1%}  {n * ms / calls:6.2f} ms/call")
    lines.append("  background threads by owner:")
    for owner, n in threads.most_common():
        lines.append(f"    {owner:<28}{n * ms / calls:6.2f} ms/call")
    lines.append("  per-call path by innermost package:")
    for name, n in leaf_pkg.most_common(16):
        lines.append(f"    {name:<40}{n * ms / calls:6.2f} ms/call")
    lines.append(f"  per-call path, top {top} functions (inclusive):")
    for name, n in inclusive.most_common(top):
        lines.append(f"    {n * ms / calls:6.2f} ms/call  {name}")
    return "\n".join(lines)


def _first(frames: list[str], prefix: str) -> str:
    return next(f for f in frames if f.startswith(prefix))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_profile", description=__doc__)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw stacks here")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    from bench.engine import write_samples

    work = Path(tempfile.mkdtemp(prefix="engine-profile-"))
    env = base_env()
    fake = fake_openai(args.latency_ms, env=env, work=work)
    try:
        samples = write_samples(work / "samples.csv", args.samples)
        env.update(
            PLAYGROUND_DATA_DIR=str(work / "data"),
            OPENAI_BASE_URL=fake.url,
            OPENAI_API_KEY="x",
        )
        run = [CLI, "run", "--prompt", "chat-extract-feedback", "--label", "production"]
        run += ["--label", "staging", "--samples", str(samples), "--out", str(work / "o.csv")]
        run += ["--concurrency", str(args.concurrency), "--quiet"]
        note("first run (seeds the data dir, not profiled)")
        measure(run, env=env, cwd=work, log=work / "seed")
        raw = work / "cli.raw"
        note("profiled run")
        spy = [py_spy, "record", "--gil", "--rate", str(args.rate), "--format", "raw"]
        m = measure([*spy, "--output", str(raw), "--", *run], env=env, cwd=work, log=work / "prof")
        if m.returncode != 0 or not raw.exists():
            raise SystemExit(f"profiled run failed:\n{m.stdout}\n{m.stderr}")
        if args.raw:
            shutil.copy(raw, args.raw)
        # py-spy's own CPU is in the child's rusage; profile shares are what count here.
        plain = measure(run, env=env, cwd=work, log=work / "plain")
        calls = args.samples * 2
        print(f"CLI, {args.samples} samples × 2, {args.latency_ms:g} ms, c={args.concurrency}")
        print(analyse(raw, plain.cpu_s, calls))
    finally:
        fake.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
