"""The ``prompt-playground`` command line: sync, run, promote, versions, and the local server."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import SecretStr, ValidationError

from prompt_playground.errors import PlaygroundError
from prompt_playground.llm import Endpoint

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
) -> None:
    """Move a label to a version (never `latest`), saying which version held it before."""
    with _services() as services:
        moved = services.prompts.promote(name, version, label)
        if not moved.changed:
            typer.echo(f"{name}: '{label}' is already on v{version}; nothing changed.")
        elif moved.previous_version is None:
            typer.echo(f"{name}: '{label}' now on v{version} (new label).")
        else:
            typer.echo(f"{name}: '{label}' moved v{moved.previous_version} → v{version}.")


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
) -> None:
    """Run samples through each label/version and print the comparison."""
    from prompt_playground.models import Variant
    from prompt_playground.runner import (
        Progress,
        RunRequest,
        file_hash,
        prepare_variants,
    )
    from prompt_playground.samples import load_samples, preflight

    variants = [Variant(label=lbl) for lbl in label or []] + [
        Variant(version=v) for v in version or []
    ]
    if not variants:
        raise _fail("Give at least one --label or --version to run.", code=2)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in {"csv", "jsonl", "parquet"}:
        raise _fail(f"--out must end in .csv, .jsonl or .parquet, not '{out.suffix}'.", code=2)
    var_map: dict[str, str] = {}
    for item in mapping or []:
        variable, sep, column = item.partition("=")
        if not sep or not variable or not column:
            raise _fail(f"--map takes variable=column, got {item!r}.", code=2)
        var_map[variable.strip()] = column.strip()
    if (samples is None) == (dataset is None):
        raise _fail("Give exactly one of --samples FILE or --dataset NAME.", code=2)
    data = b""
    if samples is not None:
        try:
            data = samples.read_bytes()
        except OSError as exc:
            raise _fail(f"Cannot read {samples}: {exc.strerror or exc}") from exc

    with _services() as services:
        settings = services.settings
        if samples is not None:
            sample_set = load_samples(
                data, samples.name, mapping=var_map or None, limits=settings.sample_limits
            )
        else:
            from prompt_playground.datasets import dataset_sample_set, sample_set_digest

            assert dataset is not None
            sample_set = dataset_sample_set(
                services.langfuse, dataset, base_url=services.langfuse_url
            )
            data = sample_set_digest(sample_set)
        endpoint = services.endpoint()
        prepared = prepare_variants(
            services.prompts,
            prompt,
            variants,
            default_model=endpoint.model,
            allowed_modules=settings.allowed_model_modules,
            small_model_bounds=endpoint.local,
        )
        needed = sorted({v for p in prepared for v in p.prompt.variables})
        report = preflight(sample_set, variables=needed, mapping=var_map or None)
        if not report.ok:
            raise _fail(
                f"Pre-flight failed, nothing was sent to the model. {report.summary()}",
                "\n".join(p.message for p in report.errors[:50]),
            )
        request = RunRequest(
            prompt_name=prompt,
            variants=variants,
            samples=sample_set.samples,
            concurrency=endpoint.concurrency_for(concurrency or settings.concurrency),
            samples_name=sample_set.filename,
            samples_hash=file_hash(data),
        )
        typer.echo(
            f"Running {len(sample_set.samples)} samples × {len(prepared)} variants "
            f"({', '.join(f'{p.key}=v{p.prompt.version}' for p in prepared)}) on "
            f"{endpoint.display}, concurrency {request.concurrency}"
            + _capped_note(endpoint, concurrency or settings.concurrency),
            err=True,
        )
        interactive = sys.stderr.isatty() and not quiet

        def on_progress(progress: Progress) -> None:
            if interactive:
                eta = f", ETA {progress.eta_s:.0f}s" if progress.eta_s else ""
                sys.stderr.write(
                    f"\r{progress.done}/{progress.total} done, {progress.errors} errors{eta}   "
                )
                sys.stderr.flush()

        # pandas and the reporting modules load while the calls are in flight (the main thread
        # mostly waits on the model then), not before the first call.
        preload = threading.Thread(target=_load_reporting, name="preload", daemon=True)
        preload.start()
        record = asyncio.run(services.runner().run(request, prepared, on_progress=on_progress))
        preload.join()
        from prompt_playground.compare import compare
        from prompt_playground.export import write_export

        if interactive:
            sys.stderr.write("\n")
        results = services.store.results(record.id)
        schemas = {p.key: p.model.schema for p in prepared}
        comparison = compare(results, schemas, [p.key for p in prepared])
        shape = "wide" if wide else "long"
        write_export(results, out, fmt=fmt, shape=shape, fields=list(comparison.fields))  # type: ignore[arg-type]
        typer.echo(format_summary(record, comparison))
        if post_scores:
            from prompt_playground.compare import accuracy_scores
            from prompt_playground.scores import post_scores as send_scores

            sent = send_scores(
                services.langfuse,
                accuracy_scores(results, schemas),
                base_url=services.langfuse_url,
            )
            typer.echo(f"Posted {sent} scores to Langfuse.")
        typer.echo(f"Results: {out} (run {record.id})")
        if record.status != "completed":
            raise _fail(f"The run ended as {record.status}: {record.error or ''}")


datasets_app = typer.Typer(help="Keep sample sets as Langfuse datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("save")
def datasets_save(
    file: Annotated[Path, typer.Argument(help="CSV or JSONL file of sample chats.")],
    name: Annotated[str, typer.Option(help="Dataset name in Langfuse.")],
    description: Annotated[str | None, typer.Option(help="Dataset description.")] = None,
) -> None:
    """Save a samples file as a Langfuse dataset (saving again updates the same items)."""
    from prompt_playground.datasets import save_samples
    from prompt_playground.samples import load_samples

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"Cannot read {file}: {exc.strerror or exc}") from exc
    with _services() as services:
        sample_set = load_samples(data, file.name, limits=services.settings.sample_limits)
        saved = save_samples(
            services.langfuse,
            name,
            sample_set.samples,
            base_url=services.langfuse_url,
            description=description,
        )
        services.langfuse.flush()
    skipped = f", {saved.skipped} rows with errors not saved" if saved.skipped else ""
    typer.echo(f"Dataset '{saved.name}': {saved.items} items{skipped}.")


def _load_reporting() -> None:
    import prompt_playground.compare
    import prompt_playground.export  # noqa: F401


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
) -> None:
    """Serve the embedded Langfuse-API-compatible server.

    Keys come from LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY (default pk-lf-local / sk-lf-local).
    """
    from local_langfuse.config import DEFAULT_PUBLIC_KEY, DEFAULT_SECRET_KEY, ServerConfig
    from local_langfuse.server import serve_forever

    loopback = host in {"127.0.0.1", "localhost", "::1"}
    if not loopback and not allow_remote:
        typer.echo(
            f"Refusing to bind {host}: local-langfuse binds 127.0.0.1 unless you pass "
            "--allow-remote (anyone who can reach the port and knows the keys can read your data).",
            err=True,
        )
        raise typer.Exit(2)
    if not loopback:
        typer.echo(
            f"WARNING: binding {host}; the server is reachable from other machines.", err=True
        )
    config = ServerConfig(
        db_path=db,
        public_key=os.environ.get("LANGFUSE_PUBLIC_KEY") or DEFAULT_PUBLIC_KEY,
        secret_key=SecretStr(os.environ.get("LANGFUSE_SECRET_KEY") or DEFAULT_SECRET_KEY),
    )
    typer.echo(f"local-langfuse on http://{host}:{port} (data: {db})", err=True)
    serve_forever(config, host=host, port=port)


def _capped_note(endpoint: Endpoint, requested: int) -> str:
    served = endpoint.concurrency_for(requested)
    if served >= requested:
        return ""
    return f" (capped from {requested}: the endpoint serves {served} call(s) at once best)"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The SDKs log every failed call at ERROR; rows carry those errors, so keep the terminal calm.
    for noisy in ("instructor", "langfuse", "httpx", "openai"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    app()


if __name__ == "__main__":
    main()
