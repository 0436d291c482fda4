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

from local_langfuse.errors import (
    BadRequestError,
    NotFoundError,
    NotImplementedApiError,
    invalid,
)
from local_langfuse.http import format_ts, json_response, page_meta, parse_ts, read_json
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
# GetPromptsMetaSchema: limit 1-100, default 10.
DEFAULT_LIST_LIMIT = 10
MAX_LIST_LIMIT = 100


def _store(request: Request) -> PromptStore:
    """The app's store, made once (``create_app``): a prompt GET builds nothing it can reuse."""
    store: PromptStore = request.app.state.prompts
    return store


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


def _int_query(request: Request, name: str, default: int, maximum: int = MAX_INT) -> int:
    """An integer query parameter, checked like Langfuse's ``z.coerce.number().int()``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            name,
            f"Invalid input: query parameter '{name}' must be an integer, got {raw!r}",
            "invalid_type",
        ) from None
    if value < 1:
        raise invalid(name, f"Too small: expected '{name}' to be >=1", "too_small")
    if value > maximum:
        raise invalid(name, f"Too big: expected '{name}' to be <={maximum}", "too_big")
    return value


def _version_query(request: Request) -> int | None:
    if request.query_params.get("version") in (None, ""):
        return None
    return _int_query(request, "version", 1)


def _label_query(request: Request) -> str | None:
    label = request.query_params.get("label")
    if label is None:
        return None
    if label == "":
        raise invalid("label", "Query parameter 'label' must not be empty.", "too_small")
    return label


def _version_or_label(request: Request) -> tuple[int | None, str | None]:
    if not request.scope["query_string"]:
        return None, None  # the SDK's usual GET: no query to parse
    version = _version_query(request)
    label = _label_query(request)
    if version is not None and label is not None:
        # getPromptByName.ts
        raise BadRequestError(
            "Cannot specify both version and label: a label already names one version."
        )
    return version, label


# First of all routes (see routes/__init__.py): the app tries routes in order, and this is the
# request SDKs send most; each route tried before it cost about 3 us.
@router.get(COLLECTION + "/{rest:path}")
async def get_prompt(request: Request) -> Response:
    name = _name_only(request)
    version, label = _version_or_label(request)
    return Response(_store(request).get_json(name, label=label, version=version), media_type=JSON)


@router.get(COLLECTION)
async def list_prompts(request: Request) -> Response:
    query = request.query_params
    if query.get("filter"):
        raise NotImplementedApiError(
            "The 'filter' query parameter of GET /api/public/v2/prompts is not implemented by "
            "local-langfuse; use name, label, tag, fromUpdatedAt and toUpdatedAt."
        )
    page = _int_query(request, "page", 1)
    limit = _int_query(request, "limit", DEFAULT_LIST_LIMIT, maximum=MAX_LIST_LIMIT)
    from_ts = query.get("fromUpdatedAt")
    to_ts = query.get("toUpdatedAt")
    filters = PromptListFilter(
        name=query.get("name") or None,
        version=_version_query(request),
        label=query.get("label") or None,
        tag=query.get("tag") or None,
        from_updated_at=format_ts(parse_ts(from_ts, "fromUpdatedAt")) if from_ts else None,
        to_updated_at=format_ts(parse_ts(to_ts, "toUpdatedAt")) if to_ts else None,
    )
    data, total = _store(request).list_meta(filters, page, limit)
    meta = page_meta(page, limit, total)
    # `pagination` repeats `meta` for clients of the first /v2/prompts release (langfuse#2068).
    return json_response({"data": data, "meta": meta, "pagination": meta})


@router.post(COLLECTION)
async def create_prompt(request: Request) -> Response:
    new = parse_create_request(await read_json(request))
    body = await run_in_threadpool(_store(request).create, new)
    return Response(body, status_code=201, media_type=JSON)


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
        raise invalid(
            "promptVersion",
            f"The version in the path must be a positive integer, got {raw_version!r}.",
            "invalid_type",
        )
    labels = parse_new_labels(await read_json(request))
    body = await run_in_threadpool(_store(request).add_labels, name, version, labels)
    return Response(body, media_type=JSON)


@router.delete(COLLECTION + "/{rest:path}")
async def delete_prompt(request: Request) -> Response:
    name = _name_only(request)
    version, label = _version_or_label(request)
    if label is not None:
        check_label(label, ["label"])
    await run_in_threadpool(_store(request).delete, name, version=version, label=label)
    return Response(status_code=204)
