"""Media in dataset items: the SDK uploads through ``POST /api/public/media`` and reads back bytes.

Mirrors langfuse-python (v4.14.3) ``tests/e2e/test_datasets.py::
test_create_and_get_dataset_item_with_media`` with our SDK (v5), plus the handshake's refusals
over raw HTTP. Bodies are checked against Langfuse's OpenAPI spec.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
from langfuse import Langfuse, LangfuseMedia, LangfuseMediaReference

from tests.support.openapi import assert_valid_response

MEDIA = "/api/public/media"


def _digest(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def test_media_in_a_dataset_item_resolves_to_its_own_bytes_at_each_path(
    langfuse: Langfuse, unique: str
) -> None:
    name = f"media-{unique}"
    langfuse.create_dataset(name=name)
    image, first, nested = (
        LangfuseMedia(content_bytes=f"{tag}-{unique}".encode(), content_type="image/png")
        for tag in ("image", "first", "nested")
    )
    created = langfuse.create_dataset_item(
        dataset_name=name,
        input={"question": "compare", "image": image, "gallery": [first], "matrix": [[nested]]},
        expected_output={"same": image},
    )
    assert created.input["image"].startswith("@@@langfuseMedia:")

    (item,) = langfuse.get_dataset(name).items
    pairs = [
        (item.input["image"], image),
        (item.input["gallery"][0], first),
        (item.input["matrix"][0][0], nested),
        (item.expected_output["same"], image),
    ]
    for resolved, original in pairs:
        assert isinstance(resolved, LangfuseMediaReference)
        assert resolved.fetch_bytes() == original._content_bytes
    assert item.input["question"] == "compare"


def test_the_upload_handshake_and_its_refusals(api: httpx.Client, unique: str) -> None:
    content = f"bytes-{unique}".encode()
    request = {
        "contentType": "image/png",
        "contentLength": len(content),
        "sha256Hash": _digest(content),
        "field": "input",
        "traceId": "t",
    }
    first = api.post(MEDIA, json=request)
    assert first.status_code == 200, first.text
    body = first.json()
    assert_valid_response("POST", MEDIA, 200, body)
    upload_url = body["uploadUrl"]
    assert upload_url

    # Not uploaded yet: no read.
    assert api.get(f"{MEDIA}/{body['mediaId']}").status_code == 404
    with httpx.Client() as anonymous:
        forged = upload_url.replace("token=", "token=0")
        assert anonymous.put(forged, content=content).status_code == 401
        wrong = anonymous.put(upload_url, content=b"other", headers={"Content-Type": "image/png"})
        assert wrong.status_code == 400
        assert "sha256Hash" in wrong.json()["message"]
        done = anonymous.put(upload_url, content=content, headers={"Content-Type": "image/png"})
        assert done.status_code == 200, done.text

    patch = api.patch(
        f"{MEDIA}/{body['mediaId']}",
        json={"uploadedAt": "2026-01-01T00:00:00Z", "uploadHttpStatus": 200},
    )
    assert patch.status_code == 204
    read = api.get(f"{MEDIA}/{body['mediaId']}")
    assert read.status_code == 200
    media = read.json()
    assert_valid_response("GET", f"{MEDIA}/x", 200, media)
    assert (media["contentType"], media["contentLength"]) == ("image/png", len(content))
    assert httpx.get(media["url"]).content == content

    again = api.post(MEDIA, json=request).json()
    assert again == {"mediaId": body["mediaId"], "uploadUrl": None}  # stored once


def test_bad_upload_requests_are_400s_that_name_the_field(api: httpx.Client) -> None:
    good = {"contentType": "image/png", "contentLength": 3, "sha256Hash": _digest(b"abc")}
    for bad, field in (
        ({**good, "field": "input", "contentLength": 0}, "contentLength"),
        ({**good, "field": "input", "sha256Hash": "abc"}, "sha256Hash"),
        ({**good, "field": "input", "contentType": "png"}, "contentType"),
        (good, "field"),
    ):
        response = api.post(MEDIA, json=bad)
        assert response.status_code == 400
        assert field in response.json()["message"]
