"""``/ws/documents`` (and ``GET /v1/stream``): every event of every document of one user.

Fresh: a ``ready`` message whose cursor is where the hub stands, then live. Resumed
(``after``): per partition, the records after the cursor up to the hub's position at the
moment of subscribing are read from Kafka and filtered by owner, then live. An idle stream
costs nothing but its place in the hub's map of owners.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

from services.gateway.cursor import Cursor
from services.gateway.deps import FeedDeps
from services.gateway.feed import Closing, Frame, Item, event_frame, live
from shared.gateway_protocol import CloseCode, ReadyMessage


async def user_feed(
    deps: FeedDeps, owner: str, *, after: Cursor | None
) -> AsyncGenerator[Item, None]:
    started = time.monotonic()
    sub, ends = deps.hub.subscribe_owner(owner, deps.settings.client_queue_size)
    try:
        if after is not None and not set(ends) <= set(after.offsets):
            yield Closing(CloseCode.BAD_REQUEST, "bad_cursor")  # e.g. a document stream's
            return
        cursor = after.copy() if after is not None else Cursor({p: o - 1 for p, o in ends.items()})
        ready = ReadyMessage(cursor=cursor.encode())
        yield Frame("ready", ready.model_dump_json(), ready.cursor)
        if after is not None:
            # The owner's name is in every record's JSON exactly like this (compact dump):
            # a substring test skips parsing the records of everyone else.
            needle = f'"owner":"{owner}"'.encode()
            for partition, end in sorted(ends.items()):
                async for item in deps.backfill.read(
                    partition,
                    cursor.offsets[partition] + 1,
                    end,
                    lambda record: needle in (record.value or b""),
                    lambda event: event.owner == owner,
                ):
                    yield event_frame(item, cursor)
        async for frame in live(
            sub,
            cursor,
            deadline=started + deps.settings.max_connection_s,
            idle_s=deps.settings.ping_interval_s,
        ):
            yield frame
    finally:
        deps.hub.unsubscribe(sub)
