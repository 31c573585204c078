"""The same feeds as Server-Sent Events, for curl and simple clients.

Each frame is an SSE event named after the message type, its ``id`` the message's cursor,
so a browser's EventSource resumes by itself (it sends ``Last-Event-ID``). A stream that
ends says why in a last ``close`` event with the WebSocket close code. Refusals known before
the first byte are plain HTTP errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import ExitStack
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pymongo.errors import PyMongoError
from starlette.types import Receive, Scope, Send

from services.gateway import metrics
from services.gateway.access import Admission, RefusedError, authenticate
from services.gateway.backfill import BackfillError, CursorExpiredError
from services.gateway.feed import Closing, Frame, Idle, Item
from services.gateway.websocket import FeedOpener, read_cursor
from shared.gateway_protocol import CloseCode

_HTTP_STATUS = {
    CloseCode.UNAUTHORIZED: 401,
    CloseCode.NOT_FOUND: 404,
    CloseCode.BAD_REQUEST: 400,
    CloseCode.CURSOR_EXPIRED: 410,
    CloseCode.USER_LIMIT: 429,
    CloseCode.GATEWAY_FULL: 503,
    CloseCode.TRY_AGAIN: 503,
}


def _refusal(code: CloseCode, reason: str) -> Response:
    metrics.CONNECTIONS_TOTAL.labels("sse", reason).inc()
    return JSONResponse({"reason": reason, "close_code": int(code)}, _HTTP_STATUS.get(code, 400))


def _close_event(closing: Closing) -> str:
    body = json.dumps({"code": int(closing.code), "reason": closing.reason})
    return f"event: close\ndata: {body}\n\n"


async def stream(
    request: Request, admission: Admission, stream_kind: str, open_feed: FeedOpener
) -> Response:
    settings = request.app.state.settings
    try:
        owner = authenticate(
            settings,
            request.headers.get("authorization"),
            request.headers.get("x-api-key"),
            request.query_params.get("token"),
        )
        after = read_cursor(
            request.headers.get("last-event-id") or request.query_params.get("after")
        )
        held = ExitStack()
        held.enter_context(admission.admit(owner, stream_kind))
    except RefusedError as refused:
        return _refusal(refused.code, refused.reason)
    feed = open_feed(owner, after)
    try:
        first = await anext(feed)
    except (PyMongoError, BackfillError, CursorExpiredError) as exc:
        held.close()
        await feed.aclose()
        if isinstance(exc, CursorExpiredError):
            return _refusal(CloseCode.CURSOR_EXPIRED, "cursor_expired")
        return _refusal(CloseCode.TRY_AGAIN, "store_unavailable")
    if isinstance(first, Closing) and first.tells_error:
        held.close()
        await feed.aclose()
        return _refusal(first.code, first.reason)
    return _HeldStream(
        _frames(first, feed, held),
        feed,
        held,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _HeldStream(StreamingResponse):
    """Releases the connection's place and subscription however the response ends: a
    client gone before the first byte means the body is never iterated, and its own
    ``finally`` never runs."""

    def __init__(
        self,
        body: AsyncIterator[str],
        feed: AsyncGenerator[Item, None],
        held: ExitStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(body, **kwargs)
        self._feed = feed
        self._held = held

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._feed.aclose()
            self._held.close()  # a no-op when the body's own finally did it


async def _frames(
    first: Item, feed: AsyncGenerator[Item, None], held: ExitStack
) -> AsyncIterator[str]:
    outcome = "client_closed"
    try:
        async for item in _chain(first, feed):
            if isinstance(item, Frame):
                head = f"id: {item.cursor}\n" if item.cursor else ""
                yield f"{head}event: {item.type}\ndata: {item.text}\n\n"
                metrics.MESSAGES.labels(item.type).inc()
            elif isinstance(item, Idle):
                yield ": ping\n\n"  # a comment: keeps proxies from timing the stream out
            else:
                yield _close_event(item)
                outcome = item.reason
                return
        outcome = "done"
    except (PyMongoError, BackfillError):
        outcome = "store_unavailable"
        yield _close_event(Closing(CloseCode.TRY_AGAIN, outcome))
    except CursorExpiredError:
        outcome = "cursor_expired"
        yield _close_event(Closing(CloseCode.CURSOR_EXPIRED, outcome))
    finally:
        await feed.aclose()
        held.close()
        metrics.CONNECTIONS_TOTAL.labels("sse", outcome).inc()


async def _chain(first: Item, feed: AsyncIterator[Item]) -> AsyncIterator[Item]:
    yield first
    async for item in feed:
        yield item
