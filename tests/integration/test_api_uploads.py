"""The upload and command side on the real pipeline: batches, Idempotency-Key, the duplicate
policies, refusals at upload (415), other users' documents."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _text(tag: str) -> bytes:
    """A small text document, different for every tag (so no two tests share content)."""
    return f"Document {tag}.\n\nIt has a sentence or two about {tag}.\n".encode()


async def _upload(
    pipeline: Pipeline,
    owner: str,
    files: list[tuple[str, bytes]],
    *,
    fields: dict[str, str] | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = pipeline.headers(owner)
    if key is not None:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{pipeline.api}/v1/documents",
            headers=headers,
            files=[("file", (name, data)) for name, data in files],
            data={"analyze": "false", **(fields or {})},
        )


async def _post(
    pipeline: Pipeline, path: str, owner: str, *, key: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = pipeline.headers(owner)
    if key is not None:
        headers["Idempotency-Key"] = key
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{pipeline.api}{path}", headers=headers, **kwargs)


async def _all_ids(pipeline: Pipeline, owner: str) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = await client.get(
                f"{pipeline.api}/v1/documents", headers=pipeline.headers(owner), params=params
            )
            assert page.status_code == 200, page.text
            ids += [item["id"] for item in page.json()["items"]]
            cursor = page.json()["next"]
            if cursor is None:
                return ids


async def _listed_eventually(pipeline: Pipeline, owner: str, count: int) -> list[str]:
    for _ in range(100):
        ids = await _all_ids(pipeline, owner)
        if len(ids) >= count:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{owner} never had {count} documents listed; has {len(ids)}")


async def test_single_upload_keeps_its_shape(pipeline: Pipeline) -> None:
    response = await _upload(pipeline, "shape", [("one.txt", _text("shape"))])
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"id", "status", "filename", "size", "sha256", "location", "ws_url"}
    assert body["status"] == "accepted"
    assert response.headers["location"] == f"/v1/documents/{body['id']}"


async def test_batch_answers_each_file_in_order(pipeline: Pipeline) -> None:
    files = [
        ("a.txt", _text("batch-a")),
        ("picture.png", PNG),
        ("b.md", b"# B\n\n" + _text("batch-b")),
    ]
    response = await _upload(pipeline, "batcher", files)
    assert response.status_code == 207
    body = response.json()
    assert [item["index"] for item in body["items"]] == [0, 1, 2]
    assert [item["filename"] for item in body["items"]] == ["a.txt", "picture.png", "b.md"]
    assert [item["status"] for item in body["items"]] == [202, 415, 202]
    assert body["items"][1]["problem"]["reason"] == "unsupported_type"
    assert body["items"][1]["problem"]["detected_type"] == "image/png"
    assert (body["accepted"], body["refused"]) == (2, 1)
    accepted = [body["items"][i]["document"]["id"] for i in (0, 2)]
    for document_id in accepted:
        doc = await pipeline.wait_for_status(document_id, "batcher", {"completed"})
        assert doc["extraction"]["chars"] > 0
    assert sorted(await _listed_eventually(pipeline, "batcher", 2)) == sorted(accepted)


async def test_too_many_files_refuses_the_whole_request(pipeline: Pipeline) -> None:
    files = [(f"f{i}.txt", _text(f"many-{i}")) for i in range(21)]  # the limit is 20
    response = await _upload(pipeline, "many", files)
    assert response.status_code == 422
    assert response.json()["reason"] == "too_many_files"
    await asyncio.sleep(0.5)
    assert await _all_ids(pipeline, "many") == []


async def test_an_unsupported_type_is_refused_at_upload(pipeline: Pipeline) -> None:
    before = {p for p in pipeline.cfg.blob_dir.rglob("*") if p.is_file()}
    response = await _upload(pipeline, "typist", [("photo.png", PNG)])
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "unsupported_type"
    assert response.json()["detected_type"] == "image/png"
    # An executable named like a text file is judged by its bytes, not its name.
    elf = await _upload(pipeline, "typist", [("notes.txt", b"\x7fELF" + b"\x00" * 60)])
    assert elf.status_code == 415
    assert elf.json()["detected_type"] == "application/x-executable"
    assert {p for p in pipeline.cfg.blob_dir.rglob("*") if p.is_file()} == before
    await asyncio.sleep(0.5)
    assert await _all_ids(pipeline, "typist") == []


async def test_idempotent_upload_retry_gets_the_first_answer(pipeline: Pipeline) -> None:
    key = uuid.uuid4().hex
    data = _text("idempotent-upload")
    first, second = await asyncio.gather(  # the retry arrives while the first is at work
        _upload(pipeline, "retrier", [("r.txt", data)], key=key),
        _upload(pipeline, "retrier", [("r.txt", data)], key=key),
    )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    later = await _upload(pipeline, "retrier", [("r.txt", data)], key=key)
    assert later.json() == first.json()
    assert later.headers["idempotent-replayed"] == "true"
    await pipeline.wait_for_status(first.json()["id"], "retrier", {"completed"})
    await asyncio.sleep(0.5)
    assert await _all_ids(pipeline, "retrier") == [first.json()["id"]]  # published once

    other = await _upload(pipeline, "retrier", [("r.txt", _text("something else"))], key=key)
    assert other.status_code == 422
    assert other.json()["reason"] == "idempotency_key_reused"
    # Keys are per user: someone else's request with the same key is a request of its own.
    mine = await _upload(pipeline, "someone", [("r.txt", data)], key=key)
    assert mine.status_code == 202
    assert mine.json()["id"] != first.json()["id"]


async def test_idempotent_commands(pipeline: Pipeline) -> None:
    upload = await _upload(pipeline, "commander", [("c.txt", _text("commands"))])
    document_id = upload.json()["id"]
    await pipeline.wait_for_status(document_id, "commander", {"completed"})
    path = f"/v1/documents/{document_id}/reprocess"
    key = uuid.uuid4().hex
    first = await _post(pipeline, path, "commander", key=key, json={"analysis_only": False})
    again = await _post(pipeline, path, "commander", key=key, json={"analysis_only": False})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.json()["generation"] == 2
    doc = await pipeline.wait_for_status(document_id, "commander", {"completed"}, generation=2)
    assert doc["generation"] == 2  # one reprocess, not two
    different = await _post(pipeline, path, "commander", key=key, json={"analysis_only": True})
    assert different.status_code == 422
    assert different.json()["reason"] == "idempotency_key_reused"
    cancel = await _post(pipeline, f"/v1/documents/{document_id}/cancel", "commander", key=key)
    assert cancel.json()["reason"] == "idempotency_key_reused"  # another route, same key

    # A refusal is an answer too: the retry gets the same 409, without asking again.
    cancel_key = uuid.uuid4().hex
    refused = await _post(
        pipeline, f"/v1/documents/{document_id}/cancel", "commander", key=cancel_key
    )
    assert refused.status_code == 409
    assert refused.json()["reason"] == "already_finished"
    replay = await _post(
        pipeline, f"/v1/documents/{document_id}/cancel", "commander", key=cancel_key
    )
    assert (replay.status_code, replay.json()) == (409, refused.json())
    assert replay.headers["idempotent-replayed"] == "true"

    bad_key = await _post(pipeline, path, "commander", key="k" * 300, json={})
    assert bad_key.status_code == 422


async def test_commands_on_another_users_document_are_404(pipeline: Pipeline) -> None:
    upload = await _upload(pipeline, "owner-a", [("mine.txt", _text("private"))])
    document_id = upload.json()["id"]
    await pipeline.wait_for_status(document_id, "owner-a", {"completed"})
    for path in ("cancel", "reprocess"):
        response = await _post(pipeline, f"/v1/documents/{document_id}/{path}", "owner-b")
        assert response.status_code == 404
        assert response.json()["reason"] == "not_found"


async def test_duplicate_policies(pipeline: Pipeline) -> None:
    data = _text("duplicates")
    original = (await _upload(pipeline, "dup", [("first.txt", data)])).json()["id"]
    done = await pipeline.wait_for_status(original, "dup", {"completed"})

    rejected = await _upload(
        pipeline, "dup", [("again.txt", data)], fields={"duplicates": "reject"}
    )
    assert rejected.status_code == 409
    assert rejected.json()["reason"] == "duplicate"
    assert rejected.json()["duplicate_of"] == original

    linked = await _upload(pipeline, "dup", [("copy.txt", data)])  # link is the default
    assert linked.status_code == 202
    assert linked.json()["duplicate_of"] == original
    copy = await pipeline.wait_for_status(linked.json()["id"], "dup", {"completed"})
    assert copy["duplicate_of"] == original
    assert copy["filename"] == "copy.txt"
    assert copy["extraction"] == done["extraction"]  # the original's results, not processed
    assert "extraction.started" not in [e["type"] for e in await _log(pipeline, copy["id"])]
    async with httpx.AsyncClient(timeout=10) as client:
        headers = pipeline.headers("dup")
        text = await client.get(f"{pipeline.api}/v1/documents/{copy['id']}/text", headers=headers)
        first_text = await client.get(
            f"{pipeline.api}/v1/documents/{original}/text", headers=headers
        )
    assert text.status_code == 200
    assert text.content == first_text.content
    reprocess = await _post(pipeline, f"/v1/documents/{copy['id']}/reprocess", "dup")
    assert reprocess.status_code == 409
    assert reprocess.json()["reason"] == "linked_duplicate"

    processed = await _upload(
        pipeline, "dup", [("third.txt", data)], fields={"duplicates": "process"}
    )
    assert processed.status_code == 202
    assert "duplicate_of" not in processed.json()
    third = await pipeline.wait_for_status(processed.json()["id"], "dup", {"completed"})
    assert "duplicate_of" not in third
    assert "extraction.started" in [e["type"] for e in await _log(pipeline, third["id"])]

    # Content is compared per user: the same bytes from someone else are processed.
    stranger = await _upload(
        pipeline, "dup-other", [("x.txt", data)], fields={"duplicates": "reject"}
    )
    assert stranger.status_code == 202

    bad = await _upload(pipeline, "dup", [("y.txt", data)], fields={"duplicates": "sometimes"})
    assert bad.status_code == 422
    assert bad.json()["reason"] == "invalid_field"


async def test_a_copy_of_a_document_in_flight_is_processed(pipeline: Pipeline) -> None:
    slow = b"DOCSTREAM-TEST-HOOK sleep 3\n"  # the extractor's test hook: it takes 3 s
    first = (await _upload(pipeline, "flight", [("a.txt", slow)])).json()["id"]
    second = await _upload(pipeline, "flight", [("b.txt", slow)])
    assert second.status_code == 202
    assert "duplicate_of" not in second.json()  # not completed yet: nothing to link to
    await pipeline.wait_for_status(first, "flight", {"completed"})
    await pipeline.wait_for_status(second.json()["id"], "flight", {"completed"})


async def _log(pipeline: Pipeline, document_id: str) -> list[dict[str, Any]]:
    owner = "dup"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            f"{pipeline.api}/v1/documents/{document_id}/log",
            headers=pipeline.headers(owner),
            params={"limit": 500},
        )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
