"""``/ws/documents/{id}`` (and its SSE twin): one document, snapshot or resume, then live,
until its terminal event.

Fresh: the read model's state with its position, then the events after that position (from
the hub's memory of recent events when it reaches back that far, otherwise read from Kafka),
then live. Resumed (``after``): the events after the cursor. Which offsets those are, the
document's processing log in the read model says (each entry has its position), so only
those records are read, however long ago the cursor was minted; past the logged position,
the partition is read up to the live hub's position. A resume ends at once when the client
has had the terminal event, even when the read model has not folded it yet (issue 12).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from services.gateway.cursor import Cursor
from services.gateway.deps import FeedDeps
from services.gateway.feed import Closing, Frame, Item, ends_watch, event_frame, live
from services.gateway.hub import LiveEvent
from shared.events import TERMINAL_STATUSES_READ_MODEL
from shared.gateway_protocol import CloseCode, SnapshotMessage
from shared.ids import is_document_id
from shared.mongo import public_view
from shared.readmodel import DOCUMENTS


async def document_feed(
    deps: FeedDeps,
    owner: str,
    document_id: str,
    *,
    after: Cursor | None,
    min_generation: int,
) -> AsyncGenerator[Item, None]:
    started = time.monotonic()
    if not is_document_id(document_id):
        yield await _not_found(deps, started)
        return
    sub, ends = deps.hub.subscribe_document(document_id, owner, deps.settings.client_queue_size)
    try:
        found = await deps.db()[DOCUMENTS].find_one({"_id": document_id})
        doc: dict[str, Any] | None = dict(found) if found is not None else None
        if doc is None:
            doc_owner = await deps.hub.wait_for_owner(
                document_id, deps.settings.unknown_document_wait_s
            )
        else:
            doc_owner = None if doc.get("deleted") else doc.get("owner")
        if doc_owner != owner:  # someone else's, deleted and missing all look the same
            yield await _not_found(deps, started)
            return
        reached = max(
            int(doc.get("generation", 1)) if doc is not None else 1,
            deps.hub.generation_of(document_id, owner),
        )
        if min_generation > reached:
            # A reprocess publishes its generation's first event before it answers with that
            # generation's number, so a watcher of it is at most a moment ahead of this hub:
            # wait that moment (as for an unknown id), not the connection's lifetime for a
            # generation nobody asked for.
            wait_s = max(0.0, started + deps.settings.unknown_document_wait_s - time.monotonic())
            if not await deps.hub.wait_for_generation(document_id, owner, min_generation, wait_s):
                yield Closing(CloseCode.NOT_FOUND, "unknown_generation")
                return
        cursor = after.copy() if after is not None else Cursor()
        if doc is None:
            catch_up = _not_folded_yet(deps, document_id, owner, cursor, after, min_generation)
        else:
            catch_up = _from_read_model(deps, doc, cursor, after, ends, min_generation)
        async for item in catch_up:
            yield item
            if isinstance(item, Closing):
                return
        deadline = started + deps.settings.max_connection_s
        async for item in live(
            sub,
            cursor,
            deadline=deadline,
            idle_s=deps.settings.ping_interval_s,
            min_generation=min_generation,
        ):
            yield item
    finally:
        deps.hub.unsubscribe(sub)


async def _not_found(deps: FeedDeps, started: float) -> Closing:
    # An unknown id waits for its first event; answer every "not yours" after the same wait,
    # so the time taken does not tell whether a document exists.
    await asyncio.sleep(
        max(0.0, started + deps.settings.unknown_document_wait_s - time.monotonic())
    )
    return Closing(CloseCode.NOT_FOUND, "not_found")


async def _not_folded_yet(
    deps: FeedDeps,
    document_id: str,
    owner: str,
    cursor: Cursor,
    after: Cursor | None,
    min_generation: int,
) -> AsyncGenerator[Item, None]:
    # Its first event has just arrived: the hub holds all it has seen of the document.
    if after is None:
        yield Frame("snapshot", SnapshotMessage(document=None).model_dump_json())
    for item in deps.hub.recent(document_id):
        if item.owner != owner:
            continue
        if not cursor.seen(item.partition, item.offset):
            yield event_frame(item, cursor)
        # Seen or sent now, the end is the end: a client resuming after its terminal event
        # (the fold has not reached even the first one) is done, not left waiting.
        if ends_watch(item, min_generation):
            yield Closing(CloseCode.DONE, "done")
            return


async def _from_read_model(
    deps: FeedDeps,
    doc: dict[str, Any],
    cursor: Cursor,
    after: Cursor | None,
    ends: dict[int, int],
    min_generation: int,
) -> AsyncGenerator[Item, None]:
    position = doc.get("position") or {}
    partition, folded = int(position.get("partition", 0)), int(position.get("offset", -1))
    finished = (
        doc.get("status") in TERMINAL_STATUSES_READ_MODEL
        and int(doc.get("generation", 1)) >= min_generation
    )
    only: list[int] | None = None
    if after is None:
        cursor.advance(partition, folded)
        snapshot = SnapshotMessage(document=public_view(doc), cursor=cursor.encode())
        yield Frame("snapshot", snapshot.model_dump_json(), snapshot.cursor)
        if finished:
            yield Closing(CloseCode.DONE, "done")
            return
        start = folded + 1
    else:
        if partition not in after.offsets:
            yield Closing(CloseCode.BAD_REQUEST, "bad_cursor")
            return
        start = after.offsets[partition] + 1
        if finished and start > folded:
            yield Closing(CloseCode.DONE, "done")  # the client has had the terminal event
            return
        if start > folded + 1 and await _had_the_end(
            deps, doc, partition, folded + 1, start, ends, min_generation
        ):
            # The fold lags behind the cursor (the status service folds asynchronously, and
            # the other instance streamed straight from Kafka), and the client's events past
            # it hold the terminal one: the read model does not say "finished" yet, and no
            # live terminal event will come.
            yield Closing(CloseCode.DONE, "done")
            return
        if "_log" in doc:
            only = sorted(
                int(e["position"]["offset"])
                for e in doc["_log"]
                if int(e["position"]["partition"]) == partition
                and int(e["position"]["offset"]) >= start
            )
            if not only:
                start = max(start, folded + 1)
    start = max(start, cursor.offsets.get(partition, -1) + 1)
    async for item in _events_of(deps, doc, partition, start, ends.get(partition, 0), only):
        yield event_frame(item, cursor)
        if ends_watch(item, min_generation):
            yield Closing(CloseCode.DONE, "done")
            return


async def _had_the_end(
    deps: FeedDeps,
    doc: dict[str, Any],
    partition: int,
    start: int,
    end: int,
    ends: dict[int, int],
    min_generation: int,
) -> bool:
    """Whether the document's events in [start, end) of ``partition``, which the client was
    given but the read model has not folded, include the end of its watch. Read up to the
    hub's position at subscription at most: anything after that arrives live, where
    :func:`live` ends at a terminal event the client already had."""
    bound = min(end, ends.get(partition, 0))
    async for item in _events_of(deps, doc, partition, start, bound):
        if ends_watch(item, min_generation):
            return True
    return False


async def _events_of(
    deps: FeedDeps,
    doc: dict[str, Any],
    partition: int,
    start: int,
    end: int,
    only: list[int] | None = None,
) -> AsyncIterator[LiveEvent]:
    """The document's events in [start, end) of ``partition``, in order: from the hub's
    memory when it reaches back to ``start`` (it is a contiguous tail of the document's
    events), else from Kafka (``only``: see :meth:`Backfill.read`)."""
    document_id, owner = str(doc["_id"]), str(doc["owner"])
    recent = [
        e for e in deps.hub.recent(document_id) if e.partition == partition and e.owner == owner
    ]
    if recent and recent[0].offset < start:
        for item in recent:
            if start <= item.offset < end:
                yield item
        return
    key = document_id.encode()
    async for item in deps.backfill.read(
        partition,
        start,
        end,
        lambda record: record.key == key,
        lambda event: event.owner == owner and event.document_id == document_id,
        only=only,
    ):
        yield item
