"""Every WebSocket connection ends with a close frame and a code, never a dropped TCP
connection (1006), and a frame the gateway cannot read is refused with the connection kept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import websockets
from starlette.websockets import WebSocketState

from services.gateway.access import Admission
from services.gateway.cursor import Cursor
from services.gateway.feed import Item
from services.gateway.settings import GatewaySettings
from services.gateway.websocket import StuckSends, serve
from shared.auth import issue_token
from tests.gateway.conftest import Gateway


async def test_a_binary_frame_is_refused_and_the_connection_stays(gateway: Gateway) -> None:
    url = f"{gateway.ws}/ws/documents?token={gateway.token('bina')}"
    async with asyncio.timeout(20), websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(b'{"type":"ping"}')
        assert json.loads(await ws.recv()) == {"type": "error", "reason": "unknown_message"}
        await ws.send('{"type":"ping"}')  # still open, still answering
        assert json.loads(await ws.recv()) == {"type": "pong"}


class _Socket:
    """Just enough of starlette's WebSocket for :func:`serve`: a client that stays."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.headers: dict[str, str] = {}
        self.query_params = {"token": _token(settings)}
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING
        self.sent: list[str] = []
        self.closed_with: tuple[int, str] | None = None

    async def accept(self) -> None:
        self.client_state = self.application_state = WebSocketState.CONNECTED

    async def send_text(self, text: str) -> None:
        self.sent.append(text)

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()  # the client says nothing and does not leave
        raise AssertionError

    async def receive_text(self) -> str:
        return str(await self.receive())

    async def close(self, code: int, reason: str) -> None:
        self.application_state = WebSocketState.DISCONNECTED
        self.closed_with = (code, reason)


def _token(settings: GatewaySettings) -> str:
    return issue_token(settings.auth_secret.get_secret_value(), "alice")


async def _served(feed: Any) -> _Socket:
    """A connection served with ``feed`` as the owner's events, until it ends."""
    settings = GatewaySettings(auth_secret="x" * 32)
    ws = _Socket(settings)
    await serve(
        ws,  # type: ignore[arg-type]
        settings,
        Admission(settings),
        None,  # type: ignore[arg-type]
        StuckSends(10.0),
        "user",
        None,
        feed,
    )
    return ws


async def test_a_fault_in_the_feed_closes_with_1011_not_a_dropped_connection() -> None:
    async def broken(owner: str, after: Cursor | None) -> AsyncGenerator[Item, None]:
        raise ValueError("a bug")
        yield  # a generator

    ws = await _served(broken)
    assert ws.closed_with == (1011, "internal_error")
    assert [json.loads(t) for t in ws.sent] == [{"type": "error", "reason": "internal_error"}]


async def test_a_feed_that_just_stops_closes_with_1000() -> None:
    async def empty(owner: str, after: Cursor | None) -> AsyncGenerator[Item, None]:
        return
        yield  # a generator

    ws = await _served(empty)
    assert ws.closed_with == (1000, "done")
