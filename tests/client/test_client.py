"""The Python client against the running pipeline: sync and async, typed all the way."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from docstream.client import (
    ApiError,
    AsyncClient,
    Client,
    DocstreamError,
    DocumentCancelledError,
    DocumentFailedError,
)
from services.ingest.read_schemas import DocumentView
from shared.events import (
    DocumentAccepted,
    DocumentCompleted,
    Envelope,
    ExtractionCompleted,
    ExtractionStarted,
)
from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

# The extractor's worker sleeps on this file first (DOCSTREAM_EXTRACTOR_TEST_HOOKS in the
# fixture), so a watch that connects right after the upload sees every event.
SLOW = b"DOCSTREAM-TEST-HOOK sleep 1.5\n"


def _client(pipeline: Pipeline, owner: str) -> Client:
    return Client(pipeline.api, pipeline.token(owner), ws_url=pipeline.ws)


def test_upload_a_path_and_wait_for_the_completed_document(
    pipeline: Pipeline, corpus: Path
) -> None:
    with _client(pipeline, "client-ann") as client:
        accepted = client.upload(corpus / "pdf/issue-33-lorem-ipsum.pdf", analyze=True)
        doc = client.wait(accepted, timeout_s=60)
        assert isinstance(doc, DocumentView)
        assert (doc.id, doc.status) == (accepted.id, "completed")
        assert client.get(accepted.id).status == "completed"
        assert "lorem" in client.text(accepted.id).lower()


def test_a_failed_document_raises_with_its_reason(pipeline: Pipeline) -> None:
    with _client(pipeline, "client-ann") as client:
        accepted = client.upload(b"%PDF-1.7\n" + b"\x00garbage" * 50, filename="broken.pdf")
        with pytest.raises(DocumentFailedError) as failed:
            client.wait(accepted.id, timeout_s=60)
        assert failed.value.reason == "corrupt"
        assert failed.value.stage == "extraction"
        assert failed.value.document_id == accepted.id


def test_an_idempotency_key_gives_the_first_answer_and_errors_carry_the_reason(
    pipeline: Pipeline,
) -> None:
    with _client(pipeline, "client-ann") as client:
        key = uuid.uuid4().hex
        data = f"idempotent {key}\n".encode()
        first = client.upload(data, filename="a.txt", idempotency_key=key)
        again = client.upload(data, filename="a.txt", idempotency_key=key)
        assert again.id == first.id
        with pytest.raises(ApiError) as missing:
            client.get("0" * 32)
        assert (missing.value.status, missing.value.reason) == (404, "not_found")


def test_cancel_makes_wait_raise_cancelled(pipeline: Pipeline) -> None:
    with _client(pipeline, "client-ann") as client:
        accepted = client.upload(b"DOCSTREAM-TEST-HOOK sleep 60\n", filename="stuck.txt")
        events = client.watch(accepted)
        started = next(e for e in events if isinstance(e, ExtractionStarted))
        assert isinstance(started, Envelope)
        events.close()
        # The read model trails the events it folds: cancel reads it (404 until it has it).
        asyncio.run(pipeline.wait_for_status(accepted.id, "client-ann", {"extracting"}))
        assert client.cancel(accepted.id).status == "cancel_requested"
        with pytest.raises(DocumentCancelledError):
            client.wait(accepted.id, timeout_s=30)


async def test_watch_yields_typed_events_in_order_ending_with_a_terminal_one(
    pipeline: Pipeline,
) -> None:
    async with AsyncClient(pipeline.api, pipeline.token("client-bo"), ws_url=pipeline.ws) as c:
        # The hook's file holds nothing but its line; processed even if seen before.
        accepted = await c.upload(SLOW, filename="slow.txt", duplicates="process")
        events = [event async for event in c.watch(accepted)]
        types = [type(event) for event in events]
        assert types[-1] is DocumentCompleted
        assert all(e.subject == accepted.id and e.generation == 1 for e in events)
        # Lifecycle order: whatever the watch saw of these, it saw in this order.
        order = [DocumentAccepted, ExtractionStarted, ExtractionCompleted, DocumentCompleted]
        seen = [t for t in types if t in order]
        assert seen == sorted(seen, key=order.index)
        assert ExtractionCompleted in seen
        doc = await c.wait(accepted.id, timeout_s=30)
        assert doc.status == "completed"


async def test_list_follows_the_pages(pipeline: Pipeline) -> None:
    owner = f"client-{uuid.uuid4().hex[:6]}"
    requests: list[httpx.Request] = []
    async with AsyncClient(pipeline.api, pipeline.token(owner), ws_url=pipeline.ws) as c:
        ids = [
            (await c.upload(f"list {i} {owner}".encode(), filename=f"{i}.txt")).id for i in range(5)
        ]
        for document_id in ids:
            await c.wait(document_id, timeout_s=60)

        async def count(request: httpx.Request) -> None:
            requests.append(request)

        c._http.event_hooks["request"] = [count]
        listed = [item.id async for item in c.list(page_size=2, order="oldest")]
    assert listed == ids
    assert len(requests) == 3  # pages of 2, 2 and 1


def test_configuration_comes_from_the_environment(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCSTREAM_TOKEN", raising=False)
    with pytest.raises(DocstreamError):
        Client()
    monkeypatch.setenv("DOCSTREAM_URL", pipeline.api)
    monkeypatch.setenv("DOCSTREAM_TOKEN", pipeline.token("client-env"))
    monkeypatch.setenv("DOCSTREAM_WS_URL", pipeline.ws)
    with Client() as client:
        assert client.config.ws_url == pipeline.ws
        assert list(client.list()) == []
