"""What a connection sends, apart from how (WebSocket or SSE): a sequence of frames ending in
a :class:`Closing`. Both streams share the live part here: events from the subscription,
skipping what the cursor has already covered, until a terminal event, the connection's
lifetime, or a client that cannot keep up."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from services.gateway.cursor import Cursor
from services.gateway.hub import LiveEvent, Subscription
from shared.gateway_protocol import CloseCode


@dataclass(frozen=True, slots=True)
class Frame:
    """One server message, already encoded (JSON text), and the cursor it carries."""

    type: str
    text: str
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Closing:
    """The end of the feed: the close code and reason; ``error`` frames say why first."""

    code: CloseCode
    reason: str

    @property
    def tells_error(self) -> bool:
        return self.code not in (CloseCode.DONE, CloseCode.RECONNECT)


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing to send for a while (the transport pings)."""


IDLE = Idle()
Item = Frame | Closing | Idle


def error_frame(reason: str, document_id: str | None = None) -> Frame:
    body: dict[str, str] = {"type": "error", "reason": reason}
    if document_id is not None:
        body["document_id"] = document_id
    return Frame("error", json.dumps(body))


def event_frame(item: LiveEvent, cursor: Cursor) -> Frame:
    """Advance ``cursor`` past ``item`` and frame it; the event's JSON goes out as Kafka
    holds it (encoding it again for each of thousands of clients would cost more)."""
    cursor.advance(item.partition, item.offset)
    text = cursor.encode()
    return Frame(
        "event",
        f'{{"type":"event","cursor":"{text}","position":{{"partition":{item.partition},'
        f'"offset":{item.offset}}},"event":{item.raw}}}',
        text,
    )


def ends_watch(item: LiveEvent, min_generation: int | None) -> bool:
    """A document stream ends at its terminal event (of the awaited generation or later)."""
    return min_generation is not None and item.terminal and item.generation >= min_generation


async def live(
    sub: Subscription,
    cursor: Cursor,
    *,
    deadline: float,
    idle_s: float,
    min_generation: int | None = None,
) -> AsyncGenerator[Item, None]:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            yield Closing(CloseCode.RECONNECT, "reconnect")
            return
        item = await sub.get(wait_s=min(idle_s, remaining))
        if sub.overflowed:
            yield Closing(CloseCode.TOO_SLOW, "too_slow")
            return
        if item is None:
            yield IDLE
            continue
        if cursor.seen(item.partition, item.offset):
            if ends_watch(item, min_generation):
                # The client had the end already (another instance sent it before this hub
                # reached it): waiting for a live one would wait for ever.
                yield Closing(CloseCode.DONE, "done")
                return
            continue  # the backfill or the snapshot covered it
        yield event_frame(item, cursor)
        if ends_watch(item, min_generation):
            yield Closing(CloseCode.DONE, "done")
            return
