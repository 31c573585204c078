"""``?generation=`` on the document streams: not a whole number from 1 on is a bad request; a
generation the document has not reached is answered after the unknown-document wait instead
of holding the connection for its lifetime."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.gateway.conftest import WAIT_S, Gateway


@pytest.mark.parametrize("generation", ["abc", "0", "-1", "", "1.5", " 2", "+2", "2_0"])
async def test_a_generation_that_is_not_a_whole_number_from_1_is_refused_over_sse(
    gateway: Gateway, generation: str
) -> None:
    document_id = await gateway.finished_document("gene")
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{gateway.http}/v1/documents/{document_id}/stream",
            params={"token": gateway.token("gene"), "generation": generation},
        )
    assert answer.status_code == 400
    assert answer.json() == {"reason": "bad_generation", "close_code": 4400}


async def test_a_bad_generation_is_refused_over_the_websocket_and_the_credential_first(
    gateway: Gateway,
) -> None:
    document_id = await gateway.finished_document("gene")
    base = f"{gateway.ws}/ws/documents/{document_id}?generation=abc"
    for url, reason, code in [
        (f"{base}&token={gateway.token('gene')}", "bad_generation", 4400),
        (base, "missing_credentials", 4401),
    ]:
        async with asyncio.timeout(10), websockets.connect(url) as ws:
            assert json.loads(await ws.recv()) == {"type": "error", "reason": reason}
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        assert (ws.close_code, ws.close_reason) == (code, reason)


async def test_a_generation_a_finished_document_has_not_reached_is_answered_after_the_wait(
    gateway: Gateway,
) -> None:
    document_id = await gateway.finished_document("gene", generation=2)
    url = f"{gateway.http}/v1/documents/{document_id}/stream"
    token = gateway.token("gene")
    async with httpx.AsyncClient(timeout=10) as client:
        started = time.monotonic()
        answer = await client.get(url, params={"token": token, "generation": "99"})
        assert time.monotonic() - started < WAIT_S + 2  # not the connection's hour
        assert answer.status_code == 404
        assert answer.json() == {"reason": "unknown_generation", "close_code": 4404}
        # generations it has reached: the snapshot, then done at once
        for generation in ("1", "2"):
            done = await client.get(url, params={"token": token, "generation": generation})
            assert done.status_code == 200
            assert "event: snapshot" in done.text
            assert 'event: close\ndata: {"code": 1000, "reason": "done"}' in done.text
