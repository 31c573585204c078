"""Writes of folded documents: optimistic on the position, so a concurrent writer (a replica
that still held the partition during a rebalance) makes us re-read and fold again, never
overwrite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.status import metrics
from services.status.fold import TERMINAL, Doc, Position, fold
from shared.events import Event

Folded = tuple[Event, Position]


async def apply(
    collection: AsyncCollection[Doc], document_id: str, events: Sequence[Folded]
) -> None:
    for _ in range(5):
        current = await collection.find_one({"_id": document_id})
        before = dict(current) if current is not None else None
        doc = before
        for event, position in events:
            doc = fold(doc, event, position) or doc
        if doc is None or doc is before:
            metrics.EVENTS_FOLDED.labels("skipped").inc(len(events))
            return
        if await _write(collection, before, doc):
            metrics.EVENTS_FOLDED.labels("folded").inc(len(events))
            _count_finished(before, doc)
            return
        metrics.WRITE_CONFLICTS.inc()
    raise RuntimeError(f"could not fold events of {document_id}: too many write conflicts")


async def _write(collection: AsyncCollection[Doc], before: Doc | None, doc: Doc) -> bool:
    if before is None:
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True
    stored = before.get("position") or {}
    # Dotted fields, not a subdocument: embedded-document equality depends on key order.
    guard: dict[str, Any] = {
        "_id": doc["_id"],
        "position.partition": stored.get("partition"),
        "position.offset": stored.get("offset"),
    }
    result = await collection.replace_one(guard, doc)
    return result.matched_count == 1


def _count_finished(before: Doc | None, doc: Doc) -> None:
    status = doc.get("status")
    was = before.get("status") if before else None
    same_generation = before is not None and before.get("generation") == doc.get("generation")
    if status in TERMINAL and not (same_generation and was in TERMINAL):
        reason = (doc.get("error") or {}).get("reason", "")
        metrics.DOCUMENTS_FINISHED.labels(status, reason).inc()
