"""The engine bench's two baselines: the same instructor calls, without the project around them.

(a) ``bare``: asyncio + ``openai.AsyncOpenAI`` + instructor, prompts read from the example YAML.
(b) ``traced``: the same through ``langfuse.openai.AsyncOpenAI``, each call linked to its prompt
    version (``langfuse_prompt=``), the prompt fetched from Langfuse, spans flushed at the end.

Both use a pool of ``--concurrency`` worker coroutines pulling (sample, variant) pairs, the same
shape as the project's runner, and the same instructor mode and call parameters as the CLI
(JSON_SCHEMA for an OpenAI-compatible server, temperature 0, max_tokens 400, 2 validation retries).
Prints one JSON line: calls, errors, wall seconds. Run it as its own process::

    python -m bench.engine_baselines bare --base-url URL --samples CSV --concurrency 50
    python -m bench.engine_baselines traced --base-url URL --samples CSV --concurrency 50 \
        --langfuse-url URL
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

PROMPT_NAME = "chat-extract-feedback"
MODEL = "gpt-4o-mini"
#: What the CLI sends by default: validation_retries=2 (retries after the first attempt).
MAX_RETRIES = 2
HTTP_RETRIES = 3
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def read_samples(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def response_models() -> dict[str, Any]:
    from prompt_playground.examples.feedback_models import (
        ExtractedFeedback,
        ExtractedFeedbackV2,
    )

    return {"production": ExtractedFeedback, "staging": ExtractedFeedbackV2}


def yaml_templates(labels: list[str]) -> dict[str, list[dict[str, str]]]:
    """The example prompt's chat templates per label, straight from the YAML (no Langfuse)."""
    from prompt_playground.examples import example_prompt

    by_label = {lbl: v["prompt"] for v in example_prompt()["versions"] for lbl in v["labels"]}
    return {label: by_label[label] for label in labels}


def fill(template: list[dict[str, str]], row: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"role": m["role"], "content": _VARIABLE.sub(lambda x: row[x.group(1)], m["content"])}
        for m in template
    ]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import instructor

    labels = args.labels.split(",")
    models = response_models()
    rows = read_samples(args.samples)
    prompts: dict[str, Any] = {}
    langfuse = None
    if args.kind == "traced":
        from langfuse import Langfuse
        from langfuse.openai import AsyncOpenAI  # type: ignore[attr-defined]

        langfuse = Langfuse(
            public_key=args.public_key, secret_key=args.secret_key, base_url=args.langfuse_url
        )
        prompts = {label: langfuse.get_prompt(PROMPT_NAME, label=label) for label in labels}
    else:
        from openai import AsyncOpenAI

        templates = yaml_templates(labels)
    client = AsyncOpenAI(
        base_url=args.base_url, api_key="x", timeout=120.0, max_retries=HTTP_RETRIES
    )
    create = instructor.from_openai(
        client, mode=instructor.Mode.JSON_SCHEMA
    ).chat.completions.create_with_completion
    pairs: Iterator[tuple[dict[str, str], str]] = ((r, lbl) for r in rows for lbl in labels)
    calls = errors = 0

    async def worker() -> None:
        nonlocal calls, errors
        for row, label in pairs:
            extra: dict[str, Any] = {}
            if langfuse is not None:
                prompt = prompts[label]
                messages = prompt.compile(chat_json=row["chat_json"])
                extra = {"langfuse_prompt": prompt, "name": f"{label} · {row['id']}"}
            else:
                messages = fill(templates[label], row)
            try:
                parsed, _completion = await create(
                    messages=messages,
                    response_model=models[label],
                    max_retries=MAX_RETRIES,
                    model=MODEL,
                    temperature=0,
                    max_tokens=400,
                    **extra,
                )
                parsed.model_dump(mode="json")
            except Exception:
                errors += 1
            calls += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    await client.close()
    if langfuse is not None:
        langfuse.flush()
        langfuse.shutdown()
    return {
        "kind": args.kind,
        "calls": calls,
        "errors": errors,
        "loop_s": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_baselines")
    parser.add_argument("kind", choices=["bare", "traced"])
    parser.add_argument("--base-url", required=True, help="OpenAI-compatible endpoint")
    parser.add_argument("--samples", required=True, help="CSV with id, chat_json columns")
    parser.add_argument("--labels", default="production,staging")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--langfuse-url")
    parser.add_argument("--public-key", default="pk-lf-local")
    parser.add_argument("--secret-key", default="sk-lf-local")
    args = parser.parse_args(argv)
    if args.kind == "traced" and not args.langfuse_url:
        parser.error("traced needs --langfuse-url")
    import logging

    logging.basicConfig(level=logging.CRITICAL)
    print(json.dumps(asyncio.run(run(args))), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
