"""A feed over a WebSocket: frames out, client commands in, pings while idle, close codes.

Two tasks per connection: the writer drains the feed (a slow socket only slows its own
writer; the hub never waits on it), the reader answers client messages. The reader's
answers go out through the writer's lock so frames never interleave. A send stuck on a full
socket is found by :class:`StuckSends`, which closes that client as too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable

from fastapi import WebSocket, WebSocketDisconnect
from pymongo.errors import PyMongoError
from starlette.websockets import WebSocketState

from services.gateway import metrics
from services.gateway.access import Admission, RefusedError, authenticate
from services.gateway.backfill import BackfillError, CursorExpiredError
from services.gateway.commands import Commands
from services.gateway.cursor import Cursor, CursorError
from services.gateway.feed import Closing, Frame, Idle, Item, error_frame
from services.gateway.settings import GatewaySettings
from shared.gateway_protocol import CloseCode, ErrorMessage

PING = '{"type":"ping"}'
#: The answer to a binary frame: messages are JSON in text frames, so it is refused like text
#: that is not JSON, and the connection stays.
UNREADABLE = ErrorMessage(reason="unknown_message").model_dump_json(exclude_none=True)
log = logging.getLogger(__name__)

Feed = AsyncGenerator[Item, None]
#: Opens the feed of a connection, given its owner and the cursor it resumes after.
FeedOpener = Callable[[str, Cursor | None], Feed]


class _Connection:
    def __init__(self, ws: WebSocket, settings: GatewaySettings) -> None:
        self.ws = ws
        self.settings = settings
        self.lock = asyncio.Lock()
        self.heard_at = time.monotonic()
        self.pinged_at: float | None = None
        #: When the send under way began (None: none is), for :class:`StuckSends`.
        self.sending_since: float | None = None
        self.too_slow = False
        #: A close was begun (it may not have got through: it is not tried twice).
        self.closed = False

    async def send(self, text: str) -> None:
        async with self.lock:
            self.sending_since = time.monotonic()
            try:
                await self.ws.send_text(text)
            finally:
                self.sending_since = None

    async def close(self, closing: Closing) -> None:
        self.closed = True
        # Bounded: the socket may be the full one that got this client closed.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.settings.send_timeout_s):
                if closing.tells_error:
                    await self.send(error_frame(closing.reason).text)
                await self.ws.close(int(closing.code), closing.reason)

    @property
    def open(self) -> bool:
        """Accepted, and neither side has closed it yet."""
        return (
            not self.closed
            and self.ws.application_state == WebSocketState.CONNECTED
            and self.ws.client_state == WebSocketState.CONNECTED
        )


class StuckSends:
    """Stops the writer of a connection whose send has waited on a full socket for
    ``timeout_s``: that client cannot keep up, and is closed as too slow.

    One task for the whole gateway, looking every second or so, rather than a timer armed and
    cancelled around every send: that timer cost more than the send itself.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout = timeout_s
        self._writers: dict[_Connection, asyncio.Task[str]] = {}

    def watch(self, conn: _Connection, writer: asyncio.Task[str]) -> None:
        self._writers[conn] = writer

    def forget(self, conn: _Connection) -> None:
        self._writers.pop(conn, None)

    def sweep(self, now: float) -> int:
        stopped = 0
        for conn, writer in list(self._writers.items()):
            since = conn.sending_since
            if since is not None and now - since >= self._timeout and not conn.too_slow:
                conn.too_slow = True
                writer.cancel()
                stopped += 1
        return stopped

    async def run(self) -> None:
        interval = min(1.0, self._timeout / 4)
        while True:
            await asyncio.sleep(interval)
            self.sweep(time.monotonic())


def read_cursor(raw: str | None) -> Cursor | None:
    if not raw:
        return None
    try:
        return Cursor.decode(raw)
    except CursorError as exc:
        raise RefusedError(CloseCode.BAD_REQUEST, "bad_cursor") from exc


async def serve(
    ws: WebSocket,
    settings: GatewaySettings,
    admission: Admission,
    commands: Commands,
    stuck: StuckSends,
    stream: str,
    document_id: str | None,
    open_feed: FeedOpener,
) -> None:
    conn = _Connection(ws, settings)
    outcome = "error"
    try:
        owner = authenticate(
            settings,
            ws.headers.get("authorization"),
            ws.headers.get("x-api-key"),
            ws.query_params.get("token"),
        )
        after = read_cursor(ws.query_params.get("after"))
        with admission.admit(owner, stream):
            await ws.accept()
            feed = open_feed(owner, after)
            writer = asyncio.create_task(_write(conn, feed))
            reader = asyncio.create_task(_read(conn, commands, owner, document_id))
            stuck.watch(conn, writer)
            try:
                await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stuck.forget(conn)
                writer.cancel()
                reader.cancel()
                # Gathered, not awaited one by one: a task that failed must not keep the
                # other from being awaited, nor the feed from being closed.
                ended = await asyncio.gather(writer, reader, return_exceptions=True)
                await feed.aclose()
            fault = next((e for e in ended if isinstance(e, Exception)), None)
            if fault is not None:
                log.error("websocket connection failed", exc_info=fault)
                outcome = "internal_error"
                await conn.close(Closing(CloseCode.INTERNAL_ERROR, outcome))
            else:
                # The reader ends first only when the client went away.
                outcome = writer.result() if not writer.cancelled() else "client_closed"
    except RefusedError as refused:
        outcome = refused.reason
        await ws.accept()
        await conn.close(Closing(refused.code, refused.reason))
    finally:
        # Returning with the socket open makes the server drop the TCP connection: the client
        # sees 1006 and no reason. Whatever path got here, it gets a close frame.
        task = asyncio.current_task()
        if conn.open and not (task is not None and task.cancelling()):
            await conn.close(Closing(CloseCode.INTERNAL_ERROR, "internal_error"))
        metrics.CONNECTIONS_TOTAL.labels("websocket", outcome).inc()


async def _write(conn: _Connection, feed: Feed) -> str:
    interval = conn.settings.ping_interval_s
    try:
        async for item in feed:
            if isinstance(item, Frame):
                await conn.send(item.text)
                metrics.MESSAGES.labels(item.type).inc()
            elif isinstance(item, Idle):
                now = time.monotonic()
                if conn.pinged_at is not None and conn.heard_at < conn.pinged_at:
                    if now - conn.pinged_at >= interval:
                        await conn.close(Closing(CloseCode.PING_TIMEOUT, "ping_timeout"))
                        return "ping_timeout"
                elif now - conn.heard_at >= interval:
                    conn.pinged_at = now
                    await conn.send(PING)
            else:
                await conn.close(item)
                return item.reason
        # Every feed ends in a Closing; one that simply stopped has nothing more to send.
        await conn.close(Closing(CloseCode.DONE, "done"))
        return "done"
    except (WebSocketDisconnect, RuntimeError):
        return "client_closed"  # RuntimeError: starlette's "send after close"
    except asyncio.CancelledError:
        if not conn.too_slow:
            raise
        # Stopped by StuckSends: this cancel was ours, not the connection's end.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        await conn.close(Closing(CloseCode.TOO_SLOW, "too_slow"))
        return "too_slow"
    except PyMongoError:
        # The read model is restarting: tell the client to come back rather than dropping
        # the connection with an internal error.
        await conn.close(Closing(CloseCode.TRY_AGAIN, "store_unavailable"))
        return "store_unavailable"
    except BackfillError:
        await conn.close(Closing(CloseCode.TRY_AGAIN, "backfill_unavailable"))
        return "backfill_unavailable"
    except CursorExpiredError:
        await conn.close(Closing(CloseCode.CURSOR_EXPIRED, "cursor_expired"))
        return "cursor_expired"


async def _read(conn: _Connection, commands: Commands, owner: str, document_id: str | None) -> None:
    # RuntimeError: starlette's "receive after disconnect".
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await conn.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            conn.heard_at = time.monotonic()  # any message answers a ping, even a refused one
            text = message.get("text")
            if text is None:  # a binary frame
                answer: str | None = UNREADABLE
            else:
                answer = await commands.answer(text, owner, document_id)
            if answer is not None:
                await conn.send(answer)  # a send stuck here stops the writer (StuckSends)
