"""Prompt management endpoints (``/api/public/v2/prompts``), routed on the raw path.

Prompt names may contain ``/`` (folders) and arrive percent-encoded as one segment; Starlette's
decoded ``path`` would split them, so the name routes read ``scope["raw_path"]`` instead.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.errors import BadRequestError, NotFoundError, NotImplementedApiError
from local_langfuse.http import format_ts, int_param, json_response, page_meta, parse_ts, read_json
from local_langfuse.prompts import (
    PromptListFilter,
    PromptStore,
    check_label,
    parse_create_request,
    parse_new_labels,
)

router = APIRouter()

COLLECTION = "/api/public/v2/prompts"
_PREFIX = (COLLECTION + "/").encode()
JSON = "application/json"
# Versions and page sizes are 32-bit integers in Langfuse; larger ones would overflow SQLite.
MAX_INT = 2**31 - 1


def _store(request: Request) -> PromptStore:
    config: ServerConfig = request.app.state.config
    return PromptStore(request.app.state.db, config.project_id)


def _segments(request: Request) -> list[str]:
    """The path after ``/api/public/v2/prompts/``, split on raw ``/`` and then decoded."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    rest = raw[len(_PREFIX) :] if raw.startswith(_PREFIX) else b""
    try:
        return [unquote_to_bytes(part).decode() for part in rest.split(b"/")]
    except UnicodeDecodeError as exc:
        raise BadRequestError("The prompt name in the path is not valid UTF-8.") from exc


def _not_routed(segments: list[str], method: str) -> NotFoundError:
    joined = "/".join(segments)
    return NotFoundError(
        f"No route for {method} {COLLECTION}/{joined}. A prompt name that contains '/' must be "
        f"URL-encoded as one path segment, e.g. {COLLECTION}/{joined.replace('/', '%2F')}."
    )


def _name_only(request: Request) -> str:
    segments = _segments(request)
    if not segments[0]:
        raise BadRequestError("The prompt name is missing from the path.")
    if len(segments) != 1:
        raise _not_routed(segments, request.method)
    return segments[0]


def _version_query(request: Request) -> int | None:
    if request.query_params.get("version") in (None, ""):
        return None
    return int_param(request, "version", 1, maximum=MAX_INT)


def _label_query(request: Request) -> str | None:
    label = request.query_params.get("label")
    if label is None:
        return None
    if label == "":
        raise BadRequestError("Query parameter 'label' must not be empty.")
    return label


@router.get(COLLECTION)
async def list_prompts(request: Request) -> Response:
    query = request.query_params
    if query.get("filter"):
        raise NotImplementedApiError(
            "The 'filter' query parameter of GET /api/public/v2/prompts is not implemented by "
            "local-langfuse; use name, label, tag, fromUpdatedAt and toUpdatedAt."
        )
    page = int_param(request, "page", 1, maximum=MAX_INT)
    limit = int_param(request, "limit", 50, maximum=MAX_INT)
    from_ts = query.get("fromUpdatedAt")
    to_ts = query.get("toUpdatedAt")
    filters = PromptListFilter(
        name=query.get("name") or None,
        label=query.get("label") or None,
        tag=query.get("tag") or None,
        from_updated_at=format_ts(parse_ts(from_ts, "fromUpdatedAt")) if from_ts else None,
        to_updated_at=format_ts(parse_ts(to_ts, "toUpdatedAt")) if to_ts else None,
    )
    data, total = _store(request).list_meta(filters, page, limit)
    return json_response({"data": data, "meta": page_meta(page, limit, total)})


@router.post(COLLECTION)
async def create_prompt(request: Request) -> Response:
    new = parse_create_request(await read_json(request))
    body = await run_in_threadpool(_store(request).create, new)
    return Response(body, status_code=201, media_type=JSON)


@router.get(COLLECTION + "/{rest:path}")
async def get_prompt(request: Request) -> Response:
    name = _name_only(request)
    version = _version_query(request)
    label = _label_query(request)
    if version is not None and label is not None:
        raise BadRequestError(
            "Give either 'version' or 'label', not both: a label already names one version."
        )
    return Response(_store(request).get_json(name, label=label, version=version), media_type=JSON)


@router.patch(COLLECTION + "/{rest:path}")
async def update_prompt_version(request: Request) -> Response:
    segments = _segments(request)
    if not segments[0]:
        raise BadRequestError("The prompt name is missing from the path.")
    if len(segments) != 3 or segments[1] != "versions":
        raise _not_routed(segments, request.method)
    name, raw_version = segments[0], segments[2]
    try:
        version = int(raw_version)
    except ValueError:
        version = 0
    if not 1 <= version <= MAX_INT:
        raise BadRequestError(
            f"The version in the path must be a positive integer, got {raw_version!r}."
        )
    labels = parse_new_labels(await read_json(request))
    body = await run_in_threadpool(_store(request).add_labels, name, version, labels)
    return Response(body, media_type=JSON)


@router.delete(COLLECTION + "/{rest:path}")
async def delete_prompt(request: Request) -> Response:
    name = _name_only(request)
    version = _version_query(request)
    label = _label_query(request)
    if version is not None and label is not None:
        raise BadRequestError("Give either 'version' or 'label' (or neither to delete all).")
    if label is not None:
        check_label(label, "label")
    await run_in_threadpool(_store(request).delete, name, version=version, label=label)
    return Response(status_code=204)
