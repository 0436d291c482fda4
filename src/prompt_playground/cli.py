"""The ``prompt-playground`` command line: sync, run, promote, history, versions, and the local
server. Commands parse and print; the work is done by ``comparisons`` (the use cases)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from pydantic import SecretStr, ValidationError

from prompt_playground.errors import PlaygroundError

if TYPE_CHECKING:  # the commands import what they use when they run: a fast --help
    from prompt_playground.bootstrap import Services
    from prompt_playground.comparisons import Plan
    from prompt_playground.drafts import Draft
    from prompt_playground.estimate import Estimate
    from prompt_playground.models import Variant
    from prompt_playground.runner import Progress
    from prompt_playground.runstore import RunRecord
    from prompt_playground.samples import SampleSet

app = typer.Typer(
    name="prompt-playground",
    help="Test Langfuse prompt versions on sample chats with typed outputs.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str, details: str | None = None, code: int = 1) -> typer.Exit:
    typer.secho(f"Error: {message}", fg=typer.colors.RED, err=True)
    if details:
        typer.echo(details, err=True)
    return typer.Exit(code)


@contextmanager
def _services() -> Iterator[Any]:
    """Build the services from the environment; errors become messages, not tracebacks."""
    from prompt_playground.bootstrap import build_services
    from prompt_playground.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise _fail(f"Invalid configuration: {exc.errors()[0]['msg']}") from exc
    try:
        services = build_services(settings)
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    try:
        yield services
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    finally:
        services.close()


@app.command()
def sync(
    file: Annotated[Path, typer.Argument(help="YAML file with prompts (see README).")],
) -> None:
    """Create prompt versions only where the file differs from Langfuse (idempotent)."""
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"Cannot read {file}: {exc}") from exc
    from prompt_playground.prompts import sync_specs

    try:
        specs = sync_specs(document, source=str(file))
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    with _services() as services:
        for spec in specs:
            for outcome in services.prompts.sync(spec):
                if outcome.status == "created":
                    typer.echo(f"{outcome.name}: created v{outcome.version}")
                else:
                    typer.echo(f"{outcome.name}: unchanged (v{outcome.version})")


@app.command()
def versions(name: Annotated[str, typer.Argument(help="Prompt name.")]) -> None:
    """List a prompt's versions with their labels and commit messages."""
    with _services() as services:
        for version in services.prompts.versions(name):
            labels = ", ".join(version.labels) or "-"
            message = version.commit_message or ""
            typer.echo(f"v{version.version:<4} {labels:<32} {message}")


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    version: Annotated[int, typer.Option(help="The version that gets the label.")],
    label: Annotated[str, typer.Option(help="The label to move, e.g. production.")],
    reason: Annotated[str | None, typer.Option(help="Why (kept in the label history).")] = None,
    require_evidence: Annotated[
        bool,
        typer.Option(
            "--require-evidence",
            help="Run the promotion gate on the latest comparison of this version with the "
            "label's holder; refuse (exit 1) when it fails or there is none.",
        ),
    ] = False,
) -> None:
    """Move a label to a version (never `latest`), saying which version held it before."""
    from prompt_playground import comparisons

    with _services() as services:
        evidence = None
        if require_evidence:
            evidence = comparisons.promotion_evidence(
                services, prompt=name, version=version, label=label
            )
            if evidence.gate is not None:
                typer.echo(evidence.gate.format())
        moved = comparisons.promote(
            services,
            prompt=name,
            version=version,
            label=label,
            actor=comparisons.actor("cli", services.settings.actor),
            reason=reason,
            evidence=evidence,
            require_evidence=require_evidence,
        )
        if not moved.changed:
            typer.echo(f"{name}: '{label}' is already on v{version}; nothing changed.")
        elif moved.previous_version is None:
            typer.echo(f"{name}: '{label}' now on v{version} (new label).")
        else:
            typer.echo(f"{name}: '{label}' moved v{moved.previous_version} → v{version}.")


@app.command()
def history(name: Annotated[str, typer.Argument(help="Prompt name.")]) -> None:
    """Print the label moves of a prompt, newest first (from the CLI and the app)."""
    from prompt_playground import comparisons

    with _services() as services:
        moves = comparisons.history(services, name)
        if not moves:
            typer.echo(f"{name}: no label moves recorded yet.")
        for move in moves:
            before = f"v{move.from_version}" if move.from_version is not None else "-"
            typer.echo(
                f"{move.at}  {move.label:<12} {before} → v{move.to_version}  "
                f"{move.actor or '-'}  {move.note or ''}".rstrip()
            )


@app.command()
def run(
    prompt: Annotated[str, typer.Option("--prompt", help="Prompt name.")],
    out: Annotated[Path, typer.Option(help="Where to write results (.csv, .jsonl, .parquet).")],
    samples: Annotated[Path | None, typer.Option(help="CSV or JSONL file of sample chats.")] = None,
    dataset: Annotated[
        str | None, typer.Option(help="A Langfuse dataset saved with `datasets save`.")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="A label to compare (repeatable).")
    ] = None,
    version: Annotated[
        list[int] | None, typer.Option("--version", help="A version to compare (repeatable).")
    ] = None,
    draft: Annotated[
        list[Path] | None,
        typer.Option(
            "--draft",
            help="A sync file holding one prompt, run as variant draft:<file stem> without "
            "creating a version (repeatable).",
        ),
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Calls in flight (default from settings).")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="variable=column when names differ (repeatable)."),
    ] = None,
    wide: Annotated[bool, typer.Option(help="One row per sample instead of per variant.")] = False,
    post_scores: Annotated[
        bool, typer.Option(help="Post per-field accuracy to Langfuse as scores.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress line.")] = False,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            min=1,
            max=20,
            help="Call each (sample, variant) N times (1-20), each its own trace, to measure "
            "self-consistency.",
        ),
    ] = 1,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Print the pre-run estimate (calls, tokens, cost, wall time) and stop; "
            "no call is made.",
        ),
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0,
            help="Refuse to start when the upper cost estimate (USD) is above this.",
        ),
    ] = None,
) -> None:
    """Run samples through each label/version/draft and print the comparison."""
    from prompt_playground import comparisons

    drafts, variants = _variants_to_run(prompt, label, version, draft)
    fmt = _output_format(out)
    var_map = _parse_map(mapping)
    if (samples is None) == (dataset is None):
        raise _fail("Give exactly one of --samples FILE or --dataset NAME.", code=2)
    data = _read_input(samples) if samples is not None else b""

    with _services() as services:
        sample_set, samples_hash = _sample_set(services, samples, data, dataset)
        planned = comparisons.plan(
            services,
            prompt=prompt,
            variants=variants,
            samples=sample_set,
            samples_hash=samples_hash,
            mapping=var_map or None,
            concurrency=concurrency,
            drafts=drafts,
            repeats=repeat,
        )
        if planned.estimate is not None and (estimate or max_cost is not None):
            _print_estimate(planned.estimate, to_stdout=estimate)
        if estimate:
            return
        if max_cost is not None and planned.estimate is not None:
            planned.estimate.check_cost(max_cost)
        typer.echo(_running_line(planned), err=True)
        interactive = sys.stderr.isatty() and not quiet
        # pandas and the reporting modules load while the calls are in flight (the main thread
        # mostly waits on the model then), not before the first call.
        preload = threading.Thread(target=_load_reporting, name="preload", daemon=True)
        preload.start()
        record = comparisons.start(
            services,
            planned,
            on_progress=_progress_line(interactive),
            actor=comparisons.actor("cli", services.settings.actor),
        )
        preload.join()
        if interactive:
            sys.stderr.write("\n")
        data_out = comparisons.export_run(
            services,
            record.id,
            fmt=fmt,  # type: ignore[arg-type]
            shape="wide" if wide else "long",
        )
        _write_output(out, data_out)
        _print_results(services, planned, record, post_scores=post_scores)
        typer.echo(f"Results: {out} (run {record.id})")
        _print_dataset_runs(record, dataset)
        if record.status != "completed":
            raise _fail(f"The run ended as {record.status}: {record.error or ''}")


def _variants_to_run(
    prompt: str, labels: list[str] | None, versions: list[int] | None, drafts: list[Path] | None
) -> tuple[list[Draft], list[Variant]]:
    """``--label``, ``--version`` and ``--draft`` as variants, in that order, with the drafts
    read from their sync files (each must hold ``prompt``)."""
    from prompt_playground.drafts import from_sync_file
    from prompt_playground.models import Variant

    try:
        loaded = [from_sync_file(path) for path in drafts or []]
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details, code=2) from exc
    for item in loaded:
        if item.prompt_name != prompt:
            raise _fail(
                f"--draft file for '{item.prompt_name}', but --prompt is '{prompt}'.", code=2
            )
    variants = (
        [Variant(label=lbl) for lbl in labels or []]
        + [Variant(version=v) for v in versions or []]
        + [Variant(draft=d.name) for d in loaded]
    )
    if not variants:
        raise _fail("Give at least one --label, --version or --draft to run.", code=2)
    return loaded, variants


def _output_format(out: Path) -> str:
    """The export format named by ``--out``'s suffix."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in {"csv", "jsonl", "parquet"}:
        raise _fail(f"--out must end in .csv, .jsonl or .parquet, not '{out.suffix}'.", code=2)
    return fmt


def _parse_map(mapping: list[str] | None) -> dict[str, str]:
    """``--map variable=column`` options as a dict."""
    var_map: dict[str, str] = {}
    for item_map in mapping or []:
        variable, sep, column = item_map.partition("=")
        if not sep or not variable or not column:
            raise _fail(f"--map takes variable=column, got {item_map!r}.", code=2)
        var_map[variable.strip()] = column.strip()
    return var_map


def _read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"Cannot read {path}: {exc.strerror or exc}") from exc


def _print_dataset_runs(record: RunRecord, dataset: str | None) -> None:
    """Where a run on a Langfuse dataset was recorded as dataset runs, or why it was not."""
    recorded = record.meta.get("dataset_runs")
    if isinstance(recorded, dict) and recorded.get("names"):
        typer.echo(
            f"Langfuse dataset runs on '{dataset}' ({recorded.get('items')} items): "
            + ", ".join(str(n) for n in recorded["names"])
        )
    elif isinstance(recorded, dict) and recorded.get("error"):
        typer.echo(f"Not recorded as Langfuse dataset runs: {recorded['error']}", err=True)


def _write_output(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise _fail(f"Cannot write {path}: {exc.strerror or exc}") from exc


def _sample_set(
    services: Services, samples: Path | None, data: bytes, dataset: str | None
) -> tuple[SampleSet, str | None]:
    """The samples from the file already read (with its hash) or from the Langfuse dataset."""
    from prompt_playground.runner import file_hash
    from prompt_playground.samples import load_samples

    if samples is not None:
        sample_set = load_samples(data, samples.name, limits=services.settings.sample_limits)
        return sample_set, file_hash(data)
    assert dataset is not None
    return services.datasets.sample_set(dataset), None


def _print_estimate(estimate: Estimate, *, to_stdout: bool) -> None:
    """The pre-run estimate: on stdout with ``--estimate`` (it is the output), else on stderr."""
    typer.echo("Estimate before running:", err=not to_stdout)
    for line in estimate.lines():
        typer.echo(f"  {line}", err=not to_stdout)


def _running_line(planned: Plan) -> str:
    repeats = f" × {planned.repeats} repeats" if planned.repeats > 1 else ""
    return (
        f"Running {len(planned.samples)} samples × {len(planned.variants)} variants{repeats} "
        f"({planned.describe()}) on {planned.endpoint}, concurrency {planned.concurrency}"
        + (
            f" (capped from {planned.capped_from}: the endpoint serves "
            f"{planned.concurrency} call(s) at once best)"
            if planned.capped_from
            else ""
        )
    )


def _progress_line(interactive: bool) -> Callable[[Progress], None]:
    """A progress callback rewriting one line on a terminal, silent otherwise."""

    def on_progress(progress: Progress) -> None:
        if interactive:
            eta = f", ETA {progress.eta_s:.0f}s" if progress.eta_s else ""
            sys.stderr.write(
                f"\r{progress.done}/{progress.total} done, {progress.errors} errors{eta}   "
            )
            sys.stderr.flush()

    return on_progress


def _print_results(
    services: Services, planned: Plan, record: RunRecord, *, post_scores: bool
) -> None:
    """The summary table, the paired statistics and, when asked, the accuracy scores posted."""
    from prompt_playground.compare import accuracy_scores, compare

    results = services.store.results(record.id)
    schemas = {p.key: p.model.schema for p in planned.variants}
    comparison = compare(results, schemas, planned.keys)
    typer.echo(format_summary(record, comparison))
    for line in _paired_summary(results, schemas, planned.keys):
        typer.echo(line)
    if post_scores:
        sent = services.scores.post(accuracy_scores(results, schemas))
        typer.echo(f"Posted {sent} scores to Langfuse.")


@app.command("export")
def export_command(
    run_id: Annotated[str, typer.Argument(help="A run id (see the Runs page or `run`'s output).")],
    out: Annotated[Path, typer.Option(help="Where to write it (.csv, .jsonl, .parquet).")],
    wide: Annotated[bool, typer.Option(help="One row per sample instead of per variant.")] = False,
) -> None:
    """Export a stored run: the same file the Compare and Runs pages download."""
    from prompt_playground import comparisons
    from prompt_playground.runstore import RunStore
    from prompt_playground.settings import Settings

    fmt = _output_format(out)
    try:
        store = RunStore(Settings().run_store_target)
        data = comparisons.export_run(
            comparisons.StoreOnly(store),
            run_id,
            fmt=fmt,  # type: ignore[arg-type]
            shape="wide" if wide else "long",
        )
        out.write_bytes(data)
    except ValidationError as exc:
        raise _fail(f"Invalid configuration: {exc.errors()[0]['msg']}") from exc
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    except OSError as exc:
        raise _fail(f"Cannot write {out}: {exc.strerror or exc}") from exc
    typer.echo(f"Run {run_id}: {out}")


datasets_app = typer.Typer(help="Keep sample sets as Langfuse datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("save")
def datasets_save(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL file of sample chats.")],
    name: Annotated[str, typer.Option(help="Dataset name in Langfuse.")],
    description: Annotated[str | None, typer.Option(help="Dataset description.")] = None,
) -> None:
    """Save a samples file as a Langfuse dataset (saving again updates the same items)."""
    from prompt_playground.samples import load_samples

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"Cannot read {file}: {exc.strerror or exc}") from exc
    with _services() as services:
        sample_set = load_samples(data, file.name, limits=services.settings.sample_limits)
        saved = services.datasets.save(name, sample_set.samples, description=description)
    skipped = f", {saved.skipped} rows with errors not saved" if saved.skipped else ""
    typer.echo(f"Dataset '{saved.name}': {saved.items} items{skipped}.")


def _load_reporting() -> None:
    import prompt_playground.compare
    import prompt_playground.export  # noqa: F401


def _paired_summary(results: Any, schemas: Any, keys: list[str]) -> list[str]:
    """Each variant against the first (the baseline): the paired statistics the Compare page's
    Metrics tab shows, with repeats its self-consistency."""
    from prompt_playground.statistics import compare_pair, format_statistics

    lines: list[str] = []
    for candidate in keys[1:]:
        try:
            stats = compare_pair(results, schemas, baseline=keys[0], candidate=candidate)
        except PlaygroundError as exc:
            lines += ["", f"Statistics {candidate} vs {keys[0]}: {exc.message}"]
            continue
        lines += ["", "Paired statistics:", format_statistics(stats)]
    return lines


def format_summary(record: Any, comparison: Any) -> str:
    """The comparison as plain text for the terminal."""
    lines = [f"Run {record.id}: {record.status}, {record.done}/{record.total} results"]
    header = f"{'variant':<16}{'valid':>8}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'tokens':>10}"
    lines += ["", header]
    for key, m in comparison.metrics.items():
        valid = f"{m.valid_rate:.0%}" if m.valid_rate is not None else "-"
        p50 = f"{m.latency_p50_ms:.0f}" if m.latency_p50_ms is not None else "-"
        p95 = f"{m.latency_p95_ms:.0f}" if m.latency_p95_ms is not None else "-"
        tokens = m.input_tokens + m.output_tokens
        lines.append(f"{key:<16}{valid:>8}{m.n_errors:>8}{p50:>10}{p95:>10}{tokens:>10}")
    if len(comparison.variants) > 1:
        lines += ["", "Agreement per field:"]
        for name, agreement in comparison.agreement.items():
            rate = f"{agreement.rate:.0%}" if agreement.rate is not None else "-"
            lines.append(f"  {name:<24}{rate:>6}  ({agreement.n_compared} compared)")
        if comparison.diffs:
            a, b = comparison.variants[0], comparison.variants[1]
            lines += ["", f"Differences ({a} → {b}), first 10:"]
            for diff in comparison.diffs[:10]:
                lines.append(f"  sample {diff.sample_id} · {diff.field}: {diff.change(a, b)}")
    if comparison.accuracy:
        lines += ["", "Accuracy vs expected:"]
        for key, per_field in comparison.accuracy.items():
            parts = [
                f"{name} {acc.accuracy:.0%}"
                for name, acc in per_field.items()
                if acc.accuracy is not None
            ]
            lines.append(f"  {key:<16}" + ", ".join(parts))
    return "\n".join(lines)


@app.command("local-langfuse")
def local_langfuse(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3999,
    db: Annotated[
        Path, typer.Option(help="SQLite file that keeps prompts, traces, scores, datasets.")
    ] = Path("data/local-langfuse.sqlite3"),
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow binding an address other than loopback.")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients use to reach the server (repeatable); requests with any "
            "other Host header than these, localhost and the bound address are refused.",
        ),
    ] = None,
) -> None:
    """Serve the embedded Langfuse-API-compatible server.

    Keys come from LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY (default pk-lf-local / sk-lf-local
    on loopback; with --allow-remote and neither set, random keys are generated and printed once).
    """
    import secrets

    from local_langfuse.config import (
        DEFAULT_PUBLIC_KEY,
        DEFAULT_SECRET_KEY,
        ServerConfig,
        check_keys_for_host,
        is_loopback,
    )
    from local_langfuse.server import serve_forever

    loopback = is_loopback(host)
    if not loopback and not allow_remote:
        typer.echo(
            f"Refusing to bind {host}: local-langfuse binds 127.0.0.1 unless you pass "
            "--allow-remote (anyone who can reach the port and knows the keys can read your data).",
            err=True,
        )
        raise typer.Exit(2)
    public_key = os.environ.get("LANGFUSE_PUBLIC_KEY") or ""
    secret_key = os.environ.get("LANGFUSE_SECRET_KEY") or ""
    if bool(public_key) != bool(secret_key):
        missing = "LANGFUSE_SECRET_KEY" if public_key else "LANGFUSE_PUBLIC_KEY"
        typer.echo(f"{missing} is not set but its partner is: set both keys, or neither.", err=True)
        raise typer.Exit(2)
    if not public_key and not loopback:
        # The default keys are public knowledge; a reachable server gets keys of its own.
        public_key = f"pk-lf-{secrets.token_hex(16)}"
        secret_key = f"sk-lf-{secrets.token_hex(24)}"
        typer.echo(
            "No keys set: generated keys for this run (shown once, set LANGFUSE_PUBLIC_KEY "
            f"and LANGFUSE_SECRET_KEY to choose your own):\n"
            f"  LANGFUSE_PUBLIC_KEY={public_key}\n  LANGFUSE_SECRET_KEY={secret_key}",
            err=True,
        )
    config = ServerConfig(
        db_path=db,
        public_key=public_key or DEFAULT_PUBLIC_KEY,
        secret_key=SecretStr(secret_key or DEFAULT_SECRET_KEY),
        allowed_hosts=tuple(allowed_host or ()),
    )
    try:
        check_keys_for_host(config, host)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    if not loopback:
        typer.echo(
            f"WARNING: binding {host}; the server is reachable from other machines.", err=True
        )
    typer.echo(f"local-langfuse on http://{host}:{port} (data: {db})", err=True)
    serve_forever(config, host=host, port=port)


@app.command()
def serve(
    prompt: Annotated[str, typer.Option("--prompt", help="Prompt name.")],
    label: Annotated[str, typer.Option(help="The label to follow.")] = "production",
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    cache_ttl: Annotated[
        int,
        typer.Option(
            "--cache-ttl",
            min=0,
            help="Seconds a fetched version is served before Langfuse is asked again "
            "(0: every request; then nothing is cached to serve while Langfuse is down).",
        ),
    ] = 60,
) -> None:
    """Serve POST /extract: typed output from the version the label points to (follows promotions).

    Also GET /schema (the served version's response schema) and GET /health.
    """
    from prompt_playground.serve import run_server

    with _services() as services:
        typer.echo(
            f"Serving '{prompt}' (label '{label}', cache TTL {cache_ttl} s) on "
            f"http://{host}:{port} — POST /extract, GET /schema, GET /health",
            err=True,
        )
        run_server(
            services, prompt=prompt, label=label, host=host, port=port, cache_ttl_s=cache_ttl
        )


db_app = typer.Typer(help="The run store's database (SQLite or PostgreSQL).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the run store and label history to the latest schema, then exit.

    The app and the CLI also do this when they open the store; run it once before rolling out
    a new release to many replicas.
    """
    from prompt_playground.history import LabelHistory
    from prompt_playground.runstore import RunStore
    from prompt_playground.settings import Settings

    try:
        settings = Settings()
        store = RunStore(settings.run_store_target)
        LabelHistory(settings.history_target)
    except ValidationError as exc:
        raise _fail(f"Invalid configuration: {exc.errors()[0]['msg']}") from exc
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    typer.echo(f"The run store and label history at {store.where} are up to date.")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The SDKs log every failed call at ERROR; rows carry those errors, so keep the terminal calm.
    for noisy in ("instructor", "langfuse", "httpx", "openai"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    app()


@app.command()
def gate(
    run_id: Annotated[str, typer.Option("--run", help="The run's id (printed by `run`).")],
    candidate: Annotated[str, typer.Option(help="The variant to promote, e.g. v3 or staging.")],
    baseline: Annotated[
        str, typer.Option(help="The variant it must not be worse than, e.g. production.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON (the README's contract).")
    ] = False,
) -> None:
    """Check a finished run against the promotion policy: exit 0 pass, 1 fail, 2 bad usage."""
    import json

    from prompt_playground.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise _fail(f"Invalid configuration: {where}: {error['msg']}", code=2) from exc
    target = settings.run_store_target
    if isinstance(target, Path) and not target.is_file():
        raise _fail(
            f"No run store at {target}: run a comparison first, or set PLAYGROUND_DATA_DIR.",
            code=2,
        )
    from prompt_playground.gate import GateUsageError, gate_run
    from prompt_playground.runstore import RunStore

    try:
        result = gate_run(
            RunStore(target),
            run_id,
            candidate=candidate,
            baseline=baseline,
            policy=settings.promotion_policy,
        )
    except GateUsageError as exc:
        raise _fail(exc.message, exc.details, code=2) from exc
    except PlaygroundError as exc:
        raise _fail(exc.message, exc.details) from exc
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(result.format())
    raise typer.Exit(0 if result.passed else 1)


if __name__ == "__main__":
    main()
