"""The front door as real HTTP and WebSocket clients use it: what a client may do with a
document right after its 202, and the protocol details around errors (found by a sweep with
curl, requests, httpx, websockets and Chromium)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import websockets

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration


def _text(tag: str) -> bytes:
    """A small text document, different for every call (no two uploads are duplicates)."""
    return f"Front door {tag} {uuid.uuid4().hex}.\n\nA sentence about {tag}.\n".encode()


async def _upload(client: httpx.AsyncClient, pipeline: Pipeline, owner: str, tag: str) -> str:
    response = await client.post(
        f"{pipeline.api}/v1/documents",
        headers=pipeline.headers(owner),
        files={"file": (f"{tag}.txt", _text(tag))},
        data={"analyze": "false"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_a_document_is_there_right_after_its_202(pipeline: Pipeline) -> None:
    """Every route by id, called at once after the upload's answer: never 404 (the status
    service folds the upload a moment later; the routes wait for that)."""
    owner = "door-fresh"
    headers = pipeline.headers(owner)
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(2):
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'get')}"
            got = await client.get(base, headers=headers)
            assert got.status_code == 200, got.text
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'log')}"
            log = await client.get(f"{base}/log", headers=headers)
            assert log.status_code == 200, log.text
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'text')}"
            text = await client.get(f"{base}/text", headers=headers)
            assert text.status_code in (200, 409), text.text  # 409 no_text: not extracted yet
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'cancel')}"
            cancel = await client.post(f"{base}/cancel", headers=headers)
            assert cancel.status_code in (202, 409), cancel.text  # 409 already_finished
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'again')}"
            again = await client.post(f"{base}/reprocess", headers=headers)
            assert again.status_code == 202, again.text
            base = f"{pipeline.api}/v1/documents/{await _upload(client, pipeline, owner, 'del')}"
            deleted = await client.delete(base, headers=headers)
            assert deleted.status_code == 204, deleted.text
        # Someone else's new document is still not found.
        other = await _upload(client, pipeline, owner, "other")
        stranger = await client.get(
            f"{pipeline.api}/v1/documents/{other}", headers=pipeline.headers("door-stranger")
        )
        assert stranger.status_code == 404


async def test_a_websocket_cancel_right_after_the_upload_is_not_lost(pipeline: Pipeline) -> None:
    owner = "door-ws"
    url = f"{pipeline.ws}/ws/documents?token={pipeline.token(owner)}"
    async with websockets.connect(url) as ws, httpx.AsyncClient(timeout=30) as client:
        assert json.loads(await ws.recv())["type"] == "ready"
        for _ in range(3):
            document_id = await _upload(client, pipeline, owner, "ws-cancel")
            await ws.send(json.dumps({"type": "cancel", "document_id": document_id}))
            async with asyncio.timeout(15):
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] in ("cancel_requested", "error"):
                        break
            assert message.get("document_id") == document_id
            if message["type"] == "error":  # it may have finished already, never "not found"
                assert message["reason"] == "already_finished", message


async def test_a_405_says_which_methods_the_path_has(pipeline: Pipeline) -> None:
    """RFC 9110 requires ``Allow`` on a 405 (it was empty: FastAPI keeps included routers as
    routes without ``methods``)."""
    some_id = "01a21bf2eef921ec956b45a24c30fc7b"
    cases = [
        ("PUT", f"/v1/documents/{some_id}", "DELETE, GET, HEAD"),
        ("PATCH", "/v1/documents", "GET, HEAD, POST"),
        ("GET", f"/v1/documents/{some_id}/cancel", "POST"),
        ("HEAD", f"/v1/documents/{some_id}/cancel", "POST"),
        ("PATCH", "/v1/webhooks", "GET, HEAD, POST"),
        ("OPTIONS", f"/v1/documents/{some_id}/text", "GET, HEAD"),
        ("POST", "/web/app.js", "GET, HEAD"),
    ]
    async with httpx.AsyncClient(timeout=10) as client:
        for method, path, allow in cases:
            response = await client.request(
                method, f"{pipeline.api}{path}", headers=pipeline.headers("door-405")
            )
            assert response.status_code == 405, (method, path)
            assert response.headers["allow"] == allow, (method, path)
            if method != "HEAD":
                assert response.json()["reason"] == "method_not_allowed"


async def test_an_idempotency_key_covers_each_files_name_and_type(pipeline: Pipeline) -> None:
    """The same key with the same bytes under another filename or part type is another
    request (the README: "other files, another body"): 422, not the first answer."""
    owner = "door-idem"
    data = _text("idem")
    key = uuid.uuid4().hex

    async def upload(name: str, content_type: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{pipeline.api}/v1/documents",
                headers={**pipeline.headers(owner), "Idempotency-Key": key},
                files={"file": (name, data, content_type)},
                data={"analyze": "false"},
            )

    first = await upload("a.txt", "text/plain")
    assert first.status_code == 202
    replay = await upload("a.txt", "text/plain")
    assert replay.status_code == 202
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    for name, content_type in (("b.txt", "text/plain"), ("a.txt", "text/markdown")):
        other = await upload(name, content_type)
        assert other.status_code == 422, (name, content_type)
        assert other.json()["reason"] == "idempotency_key_reused"


async def test_a_body_that_is_not_json_is_400_malformed_body(pipeline: Pipeline) -> None:
    """As the README and the OpenAPI say (it was 422 invalid_request)."""
    owner = "door-json"
    async with httpx.AsyncClient(timeout=30) as client:
        document_id = await _upload(client, pipeline, owner, "json")
        headers = {**pipeline.headers(owner), "content-type": "application/json"}
        for path in (f"/v1/documents/{document_id}/reprocess", "/v1/webhooks"):
            response = await client.post(f"{pipeline.api}{path}", headers=headers, content=b"{bad")
            assert response.status_code == 400, (path, response.text)
            assert response.json()["reason"] == "malformed_body"
            assert response.headers["content-type"] == "application/problem+json"
        # A body that is JSON but not what the route takes stays 422.
        wrong = await client.post(
            f"{pipeline.api}/v1/documents/{document_id}/reprocess",
            headers=headers,
            json={"analysis_only": "sometimes"},
        )
        assert wrong.status_code == 422
        assert wrong.json()["reason"] == "invalid_request"


async def test_values_the_schema_refuses_get_their_documented_reason(pipeline: Pipeline) -> None:
    """A malformed cursor, Idempotency-Key or webhook URL is refused by the schema's pattern
    before the code sees it: it gets the reason the README lists, not invalid_request."""
    owner = "door-reasons"
    headers = pipeline.headers(owner)
    async with httpx.AsyncClient(timeout=30) as client:
        cursor = await client.get(
            f"{pipeline.api}/v1/documents", headers=headers, params={"cursor": "abc"}
        )
        assert (cursor.status_code, cursor.json()["reason"]) == (422, "invalid_cursor")
        key = await client.post(
            f"{pipeline.api}/v1/documents/01a21bf2eef921ec956b45a24c30fc7b/cancel",
            headers={**headers, "Idempotency-Key": "k" * 256},
        )
        assert (key.status_code, key.json()["reason"]) == (422, "invalid_idempotency_key")
        for url in ("ftp://example.com/h", "example.com/h"):
            hook = await client.post(
                f"{pipeline.api}/v1/webhooks",
                headers=headers,
                json={"url": url, "events": ["document.completed"]},
            )
            assert (hook.status_code, hook.json()["reason"]) == (422, "invalid_url"), url
        missing = await client.post(
            f"{pipeline.api}/v1/webhooks", headers=headers, json={"events": ["document.failed"]}
        )
        assert (missing.status_code, missing.json()["reason"]) == (422, "invalid_request")
        both = await client.post(
            f"{pipeline.api}/v1/webhooks",
            headers=headers,
            json={"url": "ftp://example.com/h", "events": ["document.nothing"]},
        )
        assert (both.status_code, both.json()["reason"]) == (422, "invalid_request")


async def test_head_is_answered_wherever_get_is(pipeline: Pipeline) -> None:
    """The headers GET would answer, no body (it was 405 on every API route)."""
    owner = "door-head"
    headers = pipeline.headers(owner)
    async with httpx.AsyncClient(timeout=30) as client:
        document_id = await _upload(client, pipeline, owner, "head")
        await pipeline.wait_for_status(document_id, owner, {"completed"})
        for path in (
            f"/v1/documents/{document_id}",
            f"/v1/documents/{document_id}/text",
            f"/v1/documents/{document_id}/log",
            "/v1/stats",
            "/healthz",
        ):
            get = await client.get(f"{pipeline.api}{path}", headers=headers)
            head = await client.head(f"{pipeline.api}{path}", headers=headers)
            assert (head.status_code, head.content) == (200, b""), path
            assert head.headers["content-type"] == get.headers["content-type"], path
            if path.endswith("/text"):  # the others may change between the two requests
                assert head.headers["content-length"] == get.headers["content-length"]
                assert head.headers["accept-ranges"] == "bytes"
        missing = await client.head(
            f"{pipeline.api}/v1/documents/01a21bf2eef921ec956b45a24c30fc7b", headers=headers
        )
        assert (missing.status_code, missing.content) == (404, b"")
