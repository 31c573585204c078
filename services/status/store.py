"""Writes of folded documents: optimistic on the position, so a concurrent writer (a replica
that still held the partition during a rebalance) makes us re-read and fold again, never
overwrite.

The documents this replica wrote last are kept in memory: the status service is the only
writer of its partitions' documents, so a document is read from the database only the first
time (or after a lost race), and each batch costs one write per document instead of two
round trips."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.status import metrics
from services.status.fold import TERMINAL, Doc, Position, fold
from shared.events import Event

Folded = tuple[Event, Position]


class WriteConflictError(Exception):
    """Lost the optimistic write several times in a row (another writer keeps winning)."""


class ReadModelStore:
    def __init__(self, collection: AsyncCollection[Doc], *, cached_documents: int = 10_000):
        self.collection = collection
        self._cache: OrderedDict[str, Doc] = OrderedDict()
        self._capacity = cached_documents

    async def apply(self, document_id: str, events: Sequence[Folded]) -> None:
        for _ in range(5):
            before = await self._current(document_id)
            doc = before
            for event, position in events:
                doc = fold(doc, event, position) or doc
            if doc is None or doc is before:
                metrics.EVENTS_FOLDED.labels("skipped").inc(len(events))
                return
            if await _write(self.collection, before, doc):
                self._remember(document_id, doc)
                metrics.EVENTS_FOLDED.labels("folded").inc(len(events))
                _count_finished(before, doc)
                return
            self._cache.pop(document_id, None)  # someone else wrote it: read it afresh
            metrics.WRITE_CONFLICTS.inc()
        raise WriteConflictError(f"could not fold events of {document_id}: too many conflicts")

    async def _current(self, document_id: str) -> Doc | None:
        cached = self._cache.get(document_id)
        if cached is not None:
            self._cache.move_to_end(document_id)
            return cached
        found = await self.collection.find_one({"_id": document_id})
        return dict(found) if found is not None else None

    def _remember(self, document_id: str, doc: Doc) -> None:
        self._cache[document_id] = doc
        self._cache.move_to_end(document_id)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)


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
