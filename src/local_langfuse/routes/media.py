"""Media: the upload handshake of ``POST /api/public/media`` and reads of what was uploaded.

Langfuse hands out presigned object-storage URLs; here the "bucket" is the SQLite file and the
presigned URLs point back at this server (``/media-upload/…`` and ``/media-content/…``, outside
the authenticated API, each carrying an HMAC of the media id made with the secret key). As in
Langfuse, the media id is derived from the content hash, so an upload is stored once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.db import Database
from local_langfuse.errors import ApiError, BadRequestError, NotFoundError, UnauthorizedError
from local_langfuse.http import format_ts, json_response, json_type, now_iso, read_json

router = APIRouter()

UPLOAD_PREFIX = "/media-upload/"
CONTENT_PREFIX = "/media-content/"
URL_LIFETIME = timedelta(hours=1)
REFERENCE_RE = re.compile(r"@@@langfuseMedia:(?:[^@|]*\|)*?id=([A-Za-z0-9_-]+)[^@]*@@@")
CONTENT_TYPE_RE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
ITEM_FIELDS = (("input", "input"), ("expected_output", "expectedOutput"), ("metadata", "metadata"))


def media_id_for(sha256_b64: str) -> str:
    """Langfuse's media id: the base64url content hash, first 22 characters."""
    return sha256_b64.replace("+", "-").replace("/", "_")[:22]


def url_token(config: ServerConfig, purpose: str, media_id: str) -> str:
    """The HMAC that signs a media URL (``purpose`` is ``put`` or ``get``)."""
    key = config.secret_key.get_secret_value().encode()
    return hmac.new(key, f"{purpose}:{media_id}".encode(), hashlib.sha256).hexdigest()


def _check_token(request: Request, purpose: str, media_id: str) -> None:
    given = request.query_params.get("token", "")
    if not hmac.compare_digest(given, url_token(request.app.state.config, purpose, media_id)):
        raise UnauthorizedError("This media URL is not valid; ask the API for a new one.")


def _url(request: Request, prefix: str, purpose: str, media_id: str) -> str:
    base = str(request.base_url).rstrip("/")
    return (
        f"{base}{prefix}{media_id}?token={url_token(request.app.state.config, purpose, media_id)}"
    )


def _parse_upload_request(body: Any, max_bytes: int) -> tuple[str, int, str]:
    if not isinstance(body, dict):
        raise BadRequestError(
            f"Request body must be a JSON object (contentType, contentLength, sha256Hash, "
            f"field), got {json_type(body)}."
        )
    content_type, length, digest = (
        body.get("contentType"),
        body.get("contentLength"),
        body.get("sha256Hash"),
    )
    if not isinstance(content_type, str) or not CONTENT_TYPE_RE.match(content_type):
        raise BadRequestError("'contentType' must be a MIME type such as image/png.")
    if isinstance(length, bool) or not isinstance(length, int) or not 0 < length <= max_bytes:
        raise BadRequestError(f"'contentLength' must be an integer from 1 to {max_bytes}.")
    try:
        raw = base64.b64decode(str(digest), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != hashlib.sha256().digest_size:
        raise BadRequestError("'sha256Hash' must be the base64 SHA-256 digest of the content.")
    if not isinstance(body.get("field"), str) or not body["field"]:
        raise BadRequestError("'field' is required (input, output, metadata, expectedOutput).")
    return content_type, length, str(digest)


def _register(db: Database, content_type: str, length: int, digest: str) -> tuple[str, bool]:
    """The media id and whether its content still has to be uploaded."""
    media_id = media_id_for(digest)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO media (id, sha256, content_type, content_length, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (media_id, digest, content_type, length, now_iso()),
        )
        row = conn.execute("SELECT content FROM media WHERE id = ?", (media_id,)).fetchone()
    return media_id, row["content"] is None


@router.post("/api/public/media")
async def get_upload_url(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    content_type, length, digest = _parse_upload_request(
        await read_json(request), config.max_body_bytes
    )
    media_id, pending = await run_in_threadpool(
        _register, request.app.state.db, content_type, length, digest
    )
    upload_url = _url(request, UPLOAD_PREFIX, "put", media_id) if pending else None
    return json_response({"mediaId": media_id, "uploadUrl": upload_url})


def _store(db: Database, media_id: str, content: bytes, content_type: str | None) -> None:
    with db.write() as conn:
        row = conn.execute("SELECT * FROM media WHERE id = ?", (media_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"Media {media_id!r} was not registered (POST /api/public/media).")
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        if digest != row["sha256"]:
            raise BadRequestError("The uploaded bytes do not match the registered sha256Hash.")
        if content_type is not None and content_type != row["content_type"]:
            raise BadRequestError(
                f"Content-Type {content_type!r} differs from the registered "
                f"{row['content_type']!r}."
            )
        conn.execute("UPDATE media SET content = ? WHERE id = ?", (content, media_id))


@router.put(UPLOAD_PREFIX + "{media_id}")
async def upload_content(media_id: str, request: Request) -> Response:
    _check_token(request, "put", media_id)
    content = await request.body()
    content_type = request.headers.get("content-type")
    await run_in_threadpool(_store, request.app.state.db, media_id, content, content_type)
    return Response(status_code=200)


def _patch(db: Database, media_id: str, body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("uploadHttpStatus"), int):
        raise BadRequestError("Expected a JSON object with 'uploadedAt' and 'uploadHttpStatus'.")
    with db.write() as conn:
        updated = conn.execute(
            "UPDATE media SET uploaded_at = ?, upload_status = ? WHERE id = ?",
            (now_iso(), body["uploadHttpStatus"], media_id),
        ).rowcount
    if not updated:
        raise NotFoundError(f"Media {media_id!r} not found.")


@router.patch("/api/public/media/{media_id}")
async def patch_media(media_id: str, request: Request) -> Response:
    body = await read_json(request)
    await run_in_threadpool(_patch, request.app.state.db, media_id, body)
    return Response(status_code=204)


def _uploaded(conn: sqlite3.Connection, media_ids: list[str]) -> dict[str, sqlite3.Row]:
    if not media_ids:
        return {}
    marks = ", ".join("?" for _ in media_ids)
    rows = conn.execute(
        "SELECT id, content_type, content_length, uploaded_at, created_at FROM media"
        f" WHERE id IN ({marks}) AND content IS NOT NULL",
        media_ids,
    ).fetchall()
    return {row["id"]: row for row in rows}


def _media_json(request: Request, row: sqlite3.Row) -> dict[str, Any]:
    return {
        "mediaId": row["id"],
        "contentType": row["content_type"],
        "contentLength": row["content_length"],
        "uploadedAt": row["uploaded_at"] or row["created_at"],
        "url": _url(request, CONTENT_PREFIX, "get", row["id"]),
        "urlExpiry": format_ts(datetime.now(UTC) + URL_LIFETIME),
    }


@router.get("/api/public/media/{media_id}")
async def get_media(media_id: str, request: Request) -> Response:
    db: Database = request.app.state.db
    row = (await run_in_threadpool(_uploaded, db.conn, [media_id])).get(media_id)
    if row is None:
        raise NotFoundError(f"Media {media_id!r} not found or not uploaded yet.")
    return json_response(_media_json(request, row))


@router.get(CONTENT_PREFIX + "{media_id}")
async def get_content(media_id: str, request: Request) -> Response:
    _check_token(request, "get", media_id)
    db: Database = request.app.state.db
    row = db.conn.execute(
        "SELECT content, content_type FROM media WHERE id = ? AND content IS NOT NULL",
        (media_id,),
    ).fetchone()
    if row is None:
        raise ApiError("Media not found.", status_code=404)
    return Response(bytes(row["content"]), media_type=row["content_type"])


def _find(value: Any, path: str, found: list[tuple[str, str, str]]) -> None:
    if isinstance(value, str):
        match = REFERENCE_RE.fullmatch(value)
        if match:
            found.append((path, value, match.group(1)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find(item, f"{path}[{index}]", found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _find(item, f"{path}['{key}']", found)


def media_references(request: Request, row: sqlite3.Row) -> list[dict[str, Any]]:
    """A dataset item's ``mediaReferences``: each uploaded media reference string, by JSONPath."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for column, field in ITEM_FIELDS:
        text = row[column]
        if text and "@@@langfuseMedia:" in text:
            refs: list[tuple[str, str, str]] = []
            _find(json.loads(text), "$", refs)
            found[field] = refs
    if not found:
        return []
    ids = sorted({media_id for refs in found.values() for _, _, media_id in refs})
    db: Database = request.app.state.db
    media = _uploaded(db.conn, ids)
    return [
        {
            "field": field,
            "referenceString": reference,
            "jsonPath": path,
            "media": {
                k: v for k, v in _media_json(request, media[media_id]).items() if k != "uploadedAt"
            },
        }
        for field, refs in found.items()
        for path, reference, media_id in refs
        if media_id in media
    ]
