"""The serve bench's baseline: a bare FastAPI + instructor extraction endpoint, nothing around it.

The same call ``prompt-playground serve`` makes for the example prompt's production version (its
chat template from the YAML, ``ExtractedFeedback``, JSON_SCHEMA mode, temperature 0, max_tokens
1024, 2 validation retries, 3 HTTP retries), without Langfuse: no prompt fetch, no tracing. Run it
as its own process::

    python -m bench.serve_baseline --port 8001 --base-url http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bench.engine_baselines import MAX_RETRIES, MODEL, fill, yaml_templates


def create_app(base_url: str) -> FastAPI:
    """(The annotations FastAPI reads must resolve at module level, hence the imports above.)"""
    import instructor
    from openai import AsyncOpenAI

    from prompt_playground.examples.feedback_models import ExtractedFeedback

    template = yaml_templates(["production"])["production"]
    state: dict[str, Any] = {}
    app = FastAPI()

    @app.post("/extract")
    async def extract(request: Request) -> JSONResponse:
        if "create" not in state:  # bound to the server's loop
            client = AsyncOpenAI(base_url=base_url, api_key="x", timeout=120.0, max_retries=3)
            state["create"] = instructor.from_openai(
                client, mode=instructor.Mode.JSON_SCHEMA
            ).chat.completions.create
        body = json.loads(await request.body())
        parsed = await state["create"](
            messages=fill(template, body),
            response_model=ExtractedFeedback,
            max_retries=MAX_RETRIES,
            model=MODEL,
            temperature=0,
            max_tokens=1024,
        )
        return JSONResponse({"output": parsed.model_dump(mode="json")})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.serve_baseline")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        create_app(args.base_url),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
