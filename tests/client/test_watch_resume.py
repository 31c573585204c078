"""A watch whose connection drops mid-stream, against the real pipeline: the client resumes
from the cursor of the last message it had (``?after=``), so it gives every event once, in
order, up to the terminal one, even when the document finished while it was disconnected.

A proxy between the client and the gateway cuts the connection when the gateway sends the
named event (that frame is lost with it), and holds the client's reconnection until the read
model shows the document completed: a reconnection without the cursor would get a snapshot of
a finished document and an immediate close 1000, and the watch would end without the events
of the gap, the terminal one among them.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from docstream.client import AsyncClient, Client
from shared.events import Event
from tests.client.faults import CuttingProxy
from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

OWNER = "client-resume"
# The extractor's worker sleeps on this file first, so the watch is there from the start.
SLOW = b"DOCSTREAM-TEST-HOOK sleep 1.5\n"


def _logged_types(pipeline: Pipeline, document_id: str) -> list[str]:
    """The document's lifecycle as its processing log has it (progress left out: the
    gateway may coalesce progress events for a slow client)."""
    response = httpx.get(
        f"{pipeline.api}/v1/documents/{document_id}/log",
        params={"limit": 500},
        headers=pipeline.headers(OWNER),
        timeout=10,
    )
    response.raise_for_status()
    return [i["type"] for i in response.json()["items"] if not i["type"].endswith(".progressed")]


def _check(pipeline: Pipeline, document_id: str, events: list[Event], cut_at: str) -> None:
    types = [e.type for e in events]
    assert types[-1] == "document.completed", types
    assert cut_at in types  # the frame the proxy dropped came again on the resumed stream
    assert [t for t in types if not t.endswith(".progressed")] == _logged_types(
        pipeline, document_id
    )
    assert not [i for i, n in Counter(e.id for e in events).items() if n > 1]


def _proxy(pipeline: Pipeline, cut_at: str, document: list[str]) -> CuttingProxy:
    def until_completed() -> None:
        asyncio.run(pipeline.wait_for_status(document[0], OWNER, {"completed"}, timeout_s=60))

    port = int(pipeline.ws.rsplit(":", 1)[1])
    return CuttingProxy(port, f'"{cut_at}"'.encode(), until_completed)


@pytest.mark.parametrize("cut_at", ["extraction.completed", "document.completed"])
def test_a_dropped_watch_resumes_from_its_cursor_and_ends_with_the_terminal_event(
    pipeline: Pipeline, cut_at: str
) -> None:
    document: list[str] = []
    with (
        _proxy(pipeline, cut_at, document) as proxy,
        Client(pipeline.api, pipeline.token(OWNER), ws_url=proxy.url) as client,
    ):
        accepted = client.upload(SLOW, filename="gap.txt", duplicates="process")
        document.append(accepted.id)
        events = list(client.watch(accepted.id))  # by id: through DOCSTREAM_WS_URL, the proxy
    assert proxy.cut.is_set() and proxy.connections == 2
    _check(pipeline, accepted.id, events, cut_at)


async def test_the_async_watch_resumes_from_its_cursor_too(pipeline: Pipeline) -> None:
    cut_at = "extraction.completed"
    document: list[str] = []
    with _proxy(pipeline, cut_at, document) as proxy:
        async with AsyncClient(pipeline.api, pipeline.token(OWNER), ws_url=proxy.url) as client:
            accepted = await client.upload(SLOW, filename="gap.txt", duplicates="process")
            document.append(accepted.id)
            events = [e async for e in client.watch(accepted.id)]
    assert proxy.cut.is_set() and proxy.connections == 2
    _check(pipeline, accepted.id, events, cut_at)
