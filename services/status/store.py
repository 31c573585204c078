"""Writes of folded documents into the read model (shared/readmodel.py says what each
collection holds and why everything is addressed by ``_id``).

Per document and batch, in this order, each write idempotent, so a crash anywhere in between
is mended by the replay that follows it:

1. its summary in the owner's listing (appended once, then updated in place);
2. its in-flight marker, while it is not finished (written before the document, so a
   document that is in flight always has one: the watchdog's worklist);
3. the document itself;
4. the marker removed once the document is finished (a stale marker left by a crash is
   removed by the watchdog, which checks the document before it acts).

On MongoDB the document write is optimistic on the stored position (a replica that still
held the partition during a rebalance makes us re-read and fold again). FerretDB evaluates any
filter beyond ``_id`` by decoding the whole collection, so there the write is by ``_id`` alone
and the fold's cache is dropped whenever partitions move (the status service is the only writer
of its partitions' documents).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.status import metrics
from services.status.fold import TERMINAL, Doc, Position, fold
from services.status.housekeeping import record_finished
from shared.events import Event
from shared.readmodel import (
    BUCKET_SIZE,
    DOCUMENTS,
    INFLIGHT,
    LISTINGS,
    entry_of,
    listing_head_id,
    listing_id,
)

Folded = tuple[Event, Position]


class WriteConflictError(Exception):
    """Lost the optimistic write several times in a row (another writer keeps winning)."""


async def is_ferretdb(db: Any) -> bool:
    info = await db.command("buildInfo")
    return "ferretdbVersion" in info or "ferretdb" in str(info.get("ferretdbFeatures", ""))


BeforeWrite = Callable[[Doc | None, Doc], Awaitable[None]]


async def _nothing(before: Doc | None, doc: Doc) -> None:
    return None


class ReadModelStore:
    def __init__(
        self,
        db: Any,
        *,
        guarded: bool,
        before_write: BeforeWrite = _nothing,
        cached_documents: int = 10_000,
    ) -> None:
        self.db = db
        self.before_write = before_write
        self.collection = db[DOCUMENTS]
        self.guarded = guarded
        self.listings = Listings(db[LISTINGS])
        self._cache: OrderedDict[str, Doc] = OrderedDict()
        self._capacity = cached_documents
        self._finished_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    def forget(self, document_id: str | None = None) -> None:
        """Partitions moved (or housekeeping changed a document): what was written meanwhile
        is not in our cache."""
        if document_id is None:
            self._cache.clear()
        else:
            self._cache.pop(document_id, None)

    async def apply(self, document_id: str, events: Sequence[Folded]) -> None:
        for _ in range(5):
            before = await self._current(document_id)
            doc = before
            for event, position in events:
                doc = fold(doc, event, position) or doc
            if doc is None or doc is before:
                metrics.EVENTS_FOLDED.labels("skipped").inc(len(events))
                return
            doc["_listing"] = await self.listings.place(doc)
            finished = doc.get("status") in TERMINAL or bool(doc.get("deleted"))
            if not finished:
                await _mark_in_flight(self.db, doc)
            # Effects outside the database (the state topic, a deleted document's files) come
            # before the write: a crash in between replays them, never skips them.
            await self.before_write(before, doc)
            if finished and not doc.get("deleted") and not _was_finished(before, doc):
                # One partition's day bucket is read, changed and written: one at a time.
                async with self._finished_locks[int(doc["position"]["partition"])]:
                    await record_finished(self.db, doc, _when(doc))
            if await self._write(before, doc):
                if finished:
                    await self.db[INFLIGHT].delete_one({"_id": document_id})
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

    async def _write(self, before: Doc | None, doc: Doc) -> bool:
        if before is None:
            try:
                await self.collection.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        if not self.guarded:
            result = await self.collection.replace_one({"_id": doc["_id"]}, doc)
            return bool(result.matched_count == 1)
        stored = before.get("position") or {}
        # Dotted fields, not a subdocument: embedded-document equality depends on key order.
        guard: dict[str, Any] = {
            "_id": doc["_id"],
            "position.partition": stored.get("partition"),
            "position.offset": stored.get("offset"),
        }
        result = await self.collection.replace_one(guard, doc)
        return bool(result.matched_count == 1)


class Listings:
    """Keeps each document's summary in its owner's listing buckets (see shared/readmodel.py).

    One lock per owner and partition: documents of one batch are folded concurrently, and two
    of the same owner must not both append to the head bucket they each read."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self._locks: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)

    async def place(self, doc: Doc) -> dict[str, int]:
        owner = str(doc["owner"])
        partition = int(doc["position"]["partition"])
        entry = entry_of(doc)
        async with self._locks[(owner, partition)]:
            pointer = doc.get("_listing")
            if pointer and pointer.get("partition", partition) == partition:
                bucket = int(pointer["bucket"])
                entries = await self._entries(owner, partition, bucket)
                # By id, not by the stored index: a later insertion may have shifted it.
                index = _index_of(entries, entry["id"])
                if index is not None:
                    if entries[index] != entry:
                        entries[index] = entry
                        await self._save(owner, partition, bucket, entries)
                    return {"partition": partition, "bucket": bucket, "index": index}
            return await self._append(owner, partition, entry)

    async def _append(self, owner: str, partition: int, entry: Doc) -> dict[str, int]:
        head = await self.collection.find_one({"_id": listing_head_id(owner, partition)})
        bucket = int(head["bucket"]) if head else 0
        entries = await self._entries(owner, partition, bucket)
        # A replay after a crash between this append and the document's write: the entry is
        # there already (in the head bucket, or the one before if the head moved on).
        for number in (bucket, bucket - 1):
            found = entries if number == bucket else await self._entries(owner, partition, number)
            for index, existing in enumerate(found):
                if existing.get("id") == entry["id"]:
                    found[index] = entry
                    await self._save(owner, partition, number, found)
                    return {"partition": partition, "bucket": number, "index": index}
            if number == 0:
                break
        if len(entries) >= BUCKET_SIZE:
            bucket, entries = bucket + 1, []
        # In creation order: documents of one fold batch are placed concurrently, so one
        # created a moment later may arrive here first.
        index = len(entries)
        while index > 0 and _order(entries[index - 1]) > _order(entry):
            index -= 1
        entries.insert(index, entry)
        await self._save(owner, partition, bucket, entries)
        if head is None or int(head["bucket"]) != bucket:
            await self.collection.replace_one(
                {"_id": listing_head_id(owner, partition)},
                {"owner": owner, "partition": partition, "bucket": bucket},
                upsert=True,
            )
        return {"partition": partition, "bucket": bucket, "index": index}

    async def _entries(self, owner: str, partition: int, bucket: int) -> list[Doc]:
        found = await self.collection.find_one({"_id": listing_id(owner, partition, bucket)})
        return list((found or {}).get("entries") or [])

    async def _save(self, owner: str, partition: int, bucket: int, entries: list[Doc]) -> None:
        await self.collection.replace_one(
            {"_id": listing_id(owner, partition, bucket)},
            {"owner": owner, "partition": partition, "bucket": bucket, "entries": entries},
            upsert=True,
        )


def _index_of(entries: list[Doc], document_id: Any) -> int | None:
    return next((i for i, e in enumerate(entries) if e.get("id") == document_id), None)


def _order(entry: Doc) -> tuple[str, str]:
    created = entry.get("created_at")
    return (created.isoformat() if isinstance(created, datetime) else "", str(entry.get("id")))


async def _mark_in_flight(db: Any, doc: Doc) -> None:
    marker = {
        "owner": doc["owner"],
        "partition": int(doc["position"]["partition"]),
        "status": doc.get("status"),
        "generation": doc.get("generation", 1),
        "updated_at": doc.get("updated_at") or datetime.min,
    }
    await db[INFLIGHT].replace_one({"_id": doc["_id"]}, marker, upsert=True)


def _was_finished(before: Doc | None, doc: Doc) -> bool:
    return (
        before is not None
        and before.get("generation") == doc.get("generation")
        and before.get("status") in TERMINAL
    )


def _when(doc: Doc) -> datetime:
    stamp = doc.get("finished_at") or doc.get("updated_at")
    if not isinstance(stamp, datetime):
        return datetime.now(UTC)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _count_finished(before: Doc | None, doc: Doc) -> None:
    status = doc.get("status")
    was = before.get("status") if before else None
    same_generation = before is not None and before.get("generation") == doc.get("generation")
    if status in TERMINAL and not (same_generation and was in TERMINAL):
        reason = (doc.get("error") or {}).get("reason", "")
        metrics.DOCUMENTS_FINISHED.labels(status, reason).inc()
        created, ended = doc.get("created_at"), doc.get("updated_at")
        if isinstance(created, datetime) and isinstance(ended, datetime):
            elapsed = (_aware(ended) - _aware(created)).total_seconds()
            metrics.END_TO_END.labels(status).observe(max(elapsed, 0.0))
