"""A newcomer's first comparison: the bundled sample chats × production and staging of the
example prompt, on the embedded model, through the code the Compare page runs (start the model,
resolve the variants, the background worker), from the click to the last row.

Run: ``.venv/bin/python -m bench.first_run [--repeats 2]`` prints, for each repeat, the wall
time from the click to the last row (the first one includes starting the model), the latency of
one call, tokens per call, degenerate cells and sentiment accuracy on the bundled and the
held-out chats. ``--sweep`` compares server and sampling settings on an already started model
(how README → Performance's settings were chosen).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prompt_playground import worker
from prompt_playground.bootstrap import Services, build_services, local_endpoint
from prompt_playground.degenerate import degenerate_cells
from prompt_playground.examples import example_samples_bytes, read_example
from prompt_playground.llm import Endpoint
from prompt_playground.local_model import LocalModelServer, default_model_path
from prompt_playground.models import Result, Variant
from prompt_playground.runner import RunRequest, file_hash, prepare_variants
from prompt_playground.samples import load_samples
from prompt_playground.settings import Settings

PROMPT = "chat-extract-feedback"
VARIANTS = ("production", "staging")
HELD_OUT_FILE = "held_out_chats.csv"


@dataclass
class Figures:
    """One comparison's outcome."""

    wall_s: float
    results: list[Result]

    def latencies(self) -> list[float]:
        return [r.latency_ms or 0.0 for r in self.results]

    def mean(self, attr: str) -> float:
        values = [getattr(r, attr) or 0 for r in self.results]
        return statistics.fmean(values) if values else 0.0

    def degenerate(self) -> list[str]:
        return [
            f"{r.sample_id}/{r.variant}.{name}: {why}"
            for r in self.results
            for name, why in degenerate_cells(r.output).items()
        ]

    def errors(self) -> int:
        return sum(r.error is not None for r in self.results)

    def accuracy(self, variant: str) -> tuple[int, int]:
        """(right, out of) for the sentiment of ``variant`` against ``expected_sentiment``."""
        rows = [r for r in self.results if r.variant == variant and "sentiment" in r.expected]
        right = sum((r.output or {}).get("sentiment") == r.expected["sentiment"] for r in rows)
        return right, len(rows)

    def line(self) -> str:
        lat = sorted(self.latencies())
        acc = " ".join(f"{v} {a}/{n}" for v in VARIANTS for a, n in [self.accuracy(v)])
        return (
            f"{self.wall_s:6.1f} s · call p50 {statistics.median(lat) / 1000:.2f} s · "
            f"tokens in {self.mean('input_tokens'):.0f} out {self.mean('output_tokens'):.0f} · "
            f"errors {self.errors()} · degenerate cells {len(self.degenerate())} · "
            f"sentiment {acc}"
        )


def load() -> str:
    return os.getloadavg().__repr__()


def compare(
    services: Services,
    data: bytes,
    name: str,
    *,
    endpoint: Callable[[], Endpoint] | None = None,
    concurrency: int | None = None,
) -> Figures:
    """What the Compare page does on "Run comparison", timed from the click to the last row.

    The page today calls ``services.endpoint()``, ``prepare_variants`` and ``worker.start_run``
    (the lead will switch this to the shared comparisons use case once it lands).
    """
    clicked = time.perf_counter()
    resolved = (endpoint or services.endpoint)()
    samples = load_samples(data, name, limits=services.settings.sample_limits)
    variants = [Variant.parse(v) for v in VARIANTS]
    prepared = prepare_variants(
        services.prompts,
        PROMPT,
        variants,
        default_model=resolved.model,
        allowed_modules=services.settings.allowed_model_modules,
        small_model_bounds=resolved.local,
    )
    request = RunRequest(
        prompt_name=PROMPT,
        variants=variants,
        samples=samples.samples,
        concurrency=resolved.concurrency_for(concurrency or services.settings.concurrency),
        samples_name=name,
        samples_hash=file_hash(data),
    )
    if endpoint is not None:  # a sweep: the worker must use this endpoint, not the default
        services = dataclasses.replace(services, _endpoint_factory=endpoint, _endpoint=None)
    handle = worker.start_run(services, request, prepared)
    handle.wait()
    wall = time.perf_counter() - clicked
    return Figures(wall, services.store.results(handle.run_id))


def first_run(repeats: int) -> None:
    bundled = example_samples_bytes()
    held_out = read_example(HELD_OUT_FILE)
    with tempfile.TemporaryDirectory(prefix="bench-first-run-") as tmp:
        services = build_services(Settings(data_dir=Path(tmp)))
        try:
            for i in range(repeats):
                figures = compare(services, bundled, "sample_chats.csv")
                what = "click → last row, model start included" if i == 0 else "click → last row"
                print(f"bundled #{i + 1} ({what}; load {load()}): {figures.line()}")
                for cell in figures.degenerate():
                    print(f"    degenerate: {cell}")
            figures = compare(services, held_out, HELD_OUT_FILE)
            print(f"held-out (load {load()}): {figures.line()}")
        finally:
            services.close()


# -- the sweep that chose the settings -----------------------------------------------------


@dataclass(frozen=True)
class Config:
    """One point of the sweep: server options, client concurrency, sampling fields."""

    name: str
    parallel: int = 1
    threads: int = 1
    threads_batch: int | None = None
    batch: int = 2048
    ubatch: int = 512
    concurrency: int = 1
    poll: int = 50
    sampling: tuple[tuple[str, Any], ...] = ()


def sweep(configs: Sequence[Config], repeats: int, data_name: str) -> None:
    data = example_samples_bytes() if data_name == "bundled" else read_example(HELD_OUT_FILE)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        services = build_services(Settings(data_dir=Path(tmp)))
        try:
            for config in configs:
                server = LocalModelServer(
                    default_model_path(),
                    threads=config.threads,
                    parallel=config.parallel,
                    threads_batch=config.threads_batch,
                    batch_size=config.batch,
                    ubatch_size=config.ubatch,
                    ctx_size=2048 * config.parallel,
                    poll=config.poll,
                ).start()
                try:
                    base = local_endpoint(services.settings, server)
                    endpoint = dataclasses.replace(
                        base,
                        extra_body={**base.extra_body, **dict(config.sampling)},
                        max_concurrency=None,
                    )
                    for i in range(repeats):
                        figures = compare(
                            services,
                            data,
                            data_name,
                            endpoint=lambda e=endpoint: e,
                            concurrency=config.concurrency,
                        )
                        print(
                            f"{config.name:<28} #{i + 1} (load {load()}): {figures.line()}",
                            flush=True,
                        )
                finally:
                    server.stop()
        finally:
            services.close()


SWEEP = [
    Config("slots 1, threads 1, conc 1", parallel=1, threads=1, concurrency=1),
    Config("slots 2, threads 1, conc 2", parallel=2, threads=1, concurrency=2),
    Config("slots 1, threads 2, conc 1", parallel=1, threads=2, concurrency=1),
    Config(
        "slots 1, threads 1, batch 2, conc 1",
        parallel=1,
        threads=1,
        threads_batch=2,
        concurrency=1,
    ),
    Config("slots 2, threads 2, conc 2", parallel=2, threads=2, concurrency=2),
    Config("slots 2, threads 2, poll 0, conc 2", parallel=2, threads=2, concurrency=2, poll=0),
    Config("slots 1, threads 2, poll 0, conc 1", parallel=1, threads=2, concurrency=1, poll=0),
    Config(
        "slots 2, threads 1, batch 2, conc 2",
        parallel=2,
        threads=1,
        threads_batch=2,
        concurrency=2,
    ),
    Config("slots 4, threads 2, conc 4", parallel=4, threads=2, concurrency=4),
    Config("slots 2, conc 8 (no cap)", parallel=2, threads=1, concurrency=8),
    Config(
        "no sampling controls",
        parallel=2,
        threads=1,
        concurrency=2,
        sampling=(("dry_multiplier", 0.0), ("repeat_penalty", 1.0), ("logit_bias", [])),
    ),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sweep", action="store_true", help="compare settings (slow)")
    parser.add_argument("--only", nargs="*", help="sweep only the configs with these names")
    parser.add_argument("--data", choices=["bundled", "held-out"], default="bundled")
    args = parser.parse_args(argv)
    if args.sweep:
        configs = [c for c in SWEEP if not args.only or c.name in args.only]
        sweep(configs, args.repeats, args.data)
    else:
        first_run(args.repeats)


if __name__ == "__main__":
    main()
