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

Writes are what the fold costs (each is a round trip and, on FerretDB, a JSON re-encoding of the
row), so only what changed is written: listing buckets are cached like documents (on MongoDB
their writes are guarded by a version), a summary whose only change is ``updated_at`` is
rewritten at most every :data:`LISTING_REFRESH_S`, and the in-flight marker only when its
status or generation changes or it is :data:`MARKER_REFRESH_S` old (the watchdog reads it only
to pick candidates, and checks the document itself before it acts).

Changes between a document's first write and its end are held for up to ``hold_s`` (the
service's timer writes them, :meth:`ReadModelStore.write_held`): a listed summary's status
(``extracting``, ``analyzing``, ...) and a marker's status. A document that finishes within
that time never has them written; its end is written at once, as are its creation (listed and
marked in flight before the batch is committed) and a new generation's first marker. What a
crash loses of them is written again by the document's next event, since every placement
compares with the stored entry; the document itself is never held.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.status import metrics
from services.status.fold import TERMINAL, Doc, Position, fold
from services.status.housekeeping import FinishedLog
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

#: How stale a listed summary's ``updated_at`` may get while nothing else in it changes.
LISTING_REFRESH_S = 5.0
#: How stale an in-flight marker's ``updated_at`` may get (far below the watchdog's deadlines).
MARKER_REFRESH_S = 60.0
#: How long a change between a document's first write and its end may wait (see above).
HOLD_S = 1.0


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
        hold_s: float = HOLD_S,
    ) -> None:
        self.db = db
        self.before_write = before_write
        self.collection = db[DOCUMENTS]
        self.guarded = guarded
        self.hold_s = hold_s
        self.listings = Listings(db[LISTINGS], guarded=guarded)
        #: Markers whose status moved but are not written yet: id -> (document, held since).
        self._held_markers: dict[str, tuple[Doc, float]] = {}
        self._cache: OrderedDict[str, Doc] = OrderedDict()
        #: Per document in flight, the marker last written: (status, generation, updated_at).
        self._markers: OrderedDict[str, tuple[Any, Any, datetime]] = OrderedDict()
        self._capacity = cached_documents
        self._finished_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.finished = FinishedLog()

    def forget(self, document_id: str | None = None) -> None:
        """Partitions moved (or housekeeping changed a document): what was written meanwhile
        is not in our cache."""
        if document_id is None:
            self._cache.clear()
            self._markers.clear()
            self._held_markers.clear()
            self.listings.forget()
            self.finished.forget()
        else:
            self._cache.pop(document_id, None)
            self._markers.pop(document_id, None)
            self._held_markers.pop(document_id, None)

    async def write_held(self, *, all_of_them: bool = False) -> None:
        """Write the held changes that have waited ``hold_s`` (or all of them). Called between
        batches (the service holds its fold lock), never during one."""
        older_than = 0.0 if all_of_them else self.hold_s
        now = time.monotonic()
        for doc, since in list(self._held_markers.values()):
            if now - since >= older_than:
                await self._write_marker(doc)
        await self.listings.write_held(older_than)

    async def apply(self, document_id: str, events: Sequence[Folded]) -> None:
        for _ in range(5):
            before = await self._current(document_id)
            doc = before
            for event, position in events:
                doc = fold(doc, event, position) or doc
            if doc is None or doc is before:
                metrics.EVENTS_FOLDED.labels("skipped").inc(len(events))
                return
            finished = doc.get("status") in TERMINAL or bool(doc.get("deleted"))
            # Between its creation and its end, a summary's change may wait (see above).
            hold = self.hold_s > 0 and before is not None and not finished
            doc["_listing"] = await self.listings.place(doc, hold=hold)
            if not finished:
                await self._mark_in_flight(doc, hold=hold)
            # Effects outside the database (the state topic, a deleted document's files) come
            # before the write: a crash in between replays them, never skips them.
            await self.before_write(before, doc)
            if finished and not doc.get("deleted") and not _was_finished(before, doc):
                # One partition's day bucket is read, changed and written: one at a time.
                async with self._finished_locks[int(doc["position"]["partition"])]:
                    await self.finished.record(self.db, doc, _when(doc))
            if await self._write(before, doc):
                # A document finished in its first batch never had a marker (a replay of a
                # crash in between leaves one the watchdog removes).
                if finished and (before is not None or document_id in self._markers):
                    self._held_markers.pop(document_id, None)
                    await self.db[INFLIGHT].delete_one({"_id": document_id})
                    self._markers.pop(document_id, None)
                self._remember(document_id, doc)
                metrics.EVENTS_FOLDED.labels("folded").inc(len(events))
                _count_finished(before, doc)
                return
            self.forget(document_id)  # someone else wrote it: read it afresh
            metrics.WRITE_CONFLICTS.inc()
        raise WriteConflictError(f"could not fold events of {document_id}: too many conflicts")

    async def _current(self, document_id: str) -> Doc | None:
        cached = self._cache.get(document_id)
        if cached is not None:
            self._cache.move_to_end(document_id)
            return cached
        found = await self.collection.find_one({"_id": document_id})
        return dict(found) if found is not None else None

    async def _mark_in_flight(self, doc: Doc, *, hold: bool) -> None:
        document_id = str(doc["_id"])
        updated = _aware(doc.get("updated_at") or datetime.min)
        written = self._markers.get(document_id)
        current = (
            written is not None
            and written[1] == doc.get("generation", 1)
            and (updated - written[2]).total_seconds() < MARKER_REFRESH_S
        )
        if current and written is not None and written[0] == doc.get("status"):
            self._held_markers.pop(document_id, None)
            return
        if current and hold:
            # Only its status moved: the watchdog picks candidates by age and reads the
            # document itself, so this is for `docstream active` and may wait.
            since = self._held_markers.get(document_id, (doc, time.monotonic()))[1]
            self._held_markers[document_id] = (doc, since)
            return
        await self._write_marker(doc)

    async def _write_marker(self, doc: Doc) -> None:
        document_id = str(doc["_id"])
        updated = _aware(doc.get("updated_at") or datetime.min)
        await _mark_in_flight(self.db, doc)
        self._held_markers.pop(document_id, None)
        self._markers[document_id] = (doc.get("status"), doc.get("generation", 1), updated)
        self._markers.move_to_end(document_id)
        while len(self._markers) > self._capacity:
            self._markers.popitem(last=False)

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


class ListingConflictError(Exception):
    """Another writer changed a listing bucket since we read it (MongoDB's guarded writes)."""


class Listings:
    """Keeps each document's summary in its owner's listing buckets (see shared/readmodel.py).

    One lock per owner and partition: documents of one batch are folded concurrently, and two
    of the same owner must not both append to the head bucket they each read. Buckets are
    cached with the version they were stored with; guarded (MongoDB), a write succeeds only over
    that version, else the bucket is read again."""

    def __init__(self, collection: Any, *, guarded: bool = False, cached: int = 4_096) -> None:
        self.collection = collection
        self.guarded = guarded
        self._locks: defaultdict[tuple[str, int], asyncio.Lock] = defaultdict(asyncio.Lock)
        #: listing id -> (stored version, entries); version -1: not stored yet.
        self._buckets: OrderedDict[str, tuple[int, list[Doc]]] = OrderedDict()
        self._heads: dict[tuple[str, int], int] = {}
        self._capacity = cached
        #: Buckets whose cached entries are ahead of the stored ones (held changes):
        #: listing id -> (owner, partition, bucket, held since).
        self._held: dict[str, tuple[str, int, int, float]] = {}

    def forget(self) -> None:
        self._buckets.clear()
        self._heads.clear()
        self._held.clear()

    async def place(self, doc: Doc, *, hold: bool = False) -> dict[str, int]:
        """The document's summary in its listing; ``hold``: a change of an entry already
        listed may wait for :meth:`write_held` (or for any other write of its bucket)."""
        owner = str(doc["owner"])
        partition = int(doc["position"]["partition"])
        entry = entry_of(doc)
        async with self._locks[(owner, partition)]:
            for _ in range(5):
                try:
                    return await self._place(owner, partition, doc.get("_listing"), entry, hold)
                except ListingConflictError:
                    self.forget()  # another writer: nothing cached can be trusted
                    metrics.WRITE_CONFLICTS.inc()
        raise WriteConflictError(f"could not list {doc['_id']}: too many conflicts")

    async def write_held(self, older_than_s: float) -> None:
        """Save the buckets whose held changes have waited ``older_than_s``."""
        now = time.monotonic()
        for key, (owner, partition, bucket, since) in list(self._held.items()):
            if now - since < older_than_s:
                continue
            async with self._locks[(owner, partition)]:
                cached = self._buckets.get(key)
                if key not in self._held or cached is None:
                    continue  # saved meanwhile
                try:
                    await self._save(owner, partition, bucket, list(cached[1]), cached[0])
                except ListingConflictError:
                    # Another writer: nothing cached can be trusted. The documents' next
                    # events place their summaries again (their ends always are).
                    self.forget()
                    metrics.WRITE_CONFLICTS.inc()
                    return

    async def _place(
        self, owner: str, partition: int, pointer: Doc | None, entry: Doc, hold: bool
    ) -> dict[str, int]:
        if pointer and pointer.get("partition", partition) == partition:
            bucket = int(pointer["bucket"])
            version, entries = await self._entries(owner, partition, bucket)
            # By id, not by the stored index: a later insertion may have shifted it.
            index = _index_of(entries, entry["id"])
            if index is not None:
                if _worth_saving(entries[index], entry):
                    entries[index] = entry
                    if hold:
                        key = listing_id(owner, partition, bucket)
                        self._keep(key, (version, entries))
                        # Held since its first held change: a later one does not defer it.
                        self._held.setdefault(key, (owner, partition, bucket, time.monotonic()))
                    else:
                        await self._save(owner, partition, bucket, entries, version)
                return {"partition": partition, "bucket": bucket, "index": index}
        return await self._append(owner, partition, entry)

    async def _append(self, owner: str, partition: int, entry: Doc) -> dict[str, int]:
        bucket = await self._head(owner, partition)
        version, entries = await self._entries(owner, partition, bucket)
        # A replay after a crash between this append and the document's write: the entry is
        # there already (in the head bucket, or the one before if the head moved on).
        for number in (bucket, bucket - 1):
            found_version, found = (
                (version, entries)
                if number == bucket
                else await self._entries(owner, partition, number)
            )
            for index, existing in enumerate(found):
                if existing.get("id") == entry["id"]:
                    found[index] = entry
                    await self._save(owner, partition, number, found, found_version)
                    return {"partition": partition, "bucket": number, "index": index}
            if number == 0:
                break
        if len(entries) >= BUCKET_SIZE:
            bucket, version, entries = bucket + 1, -1, []
        # In creation order: documents of one fold batch are placed concurrently, so one
        # created a moment later may arrive here first.
        index = len(entries)
        while index > 0 and _order(entries[index - 1]) > _order(entry):
            index -= 1
        entries.insert(index, entry)
        await self._save(owner, partition, bucket, entries, version)
        if self._heads.get((owner, partition)) != bucket:
            await self.collection.replace_one(
                {"_id": listing_head_id(owner, partition)},
                {"owner": owner, "partition": partition, "bucket": bucket},
                upsert=True,
            )
            self._heads[(owner, partition)] = bucket
        return {"partition": partition, "bucket": bucket, "index": index}

    async def _head(self, owner: str, partition: int) -> int:
        known = self._heads.get((owner, partition))
        if known is None:
            head = await self.collection.find_one({"_id": listing_head_id(owner, partition)})
            if head is None:
                return 0  # no head row yet: written with the first bucket
            known = self._heads[(owner, partition)] = int(head["bucket"])
        return known

    async def _entries(self, owner: str, partition: int, bucket: int) -> tuple[int, list[Doc]]:
        """The bucket's stored version and a copy of its entries (the caller may change it)."""
        key = listing_id(owner, partition, bucket)
        cached = self._buckets.get(key)
        if cached is None:
            found = await self.collection.find_one({"_id": key})
            cached = (
                (int(found.get("version") or 0), list(found.get("entries") or []))
                if found is not None
                else (-1, [])
            )
            self._keep(key, cached)
        else:
            self._buckets.move_to_end(key)
        return cached[0], list(cached[1])

    async def _save(
        self, owner: str, partition: int, bucket: int, entries: list[Doc], version: int
    ) -> None:
        key = listing_id(owner, partition, bucket)
        written = version + 1 if version >= 0 else 1
        body = {
            "owner": owner,
            "partition": partition,
            "bucket": bucket,
            "entries": entries,
            "version": written,
        }
        if not self.guarded:
            await self.collection.replace_one({"_id": key}, body, upsert=True)
        elif version < 0:
            try:
                await self.collection.insert_one({"_id": key, **body})
            except DuplicateKeyError as exc:
                raise ListingConflictError(key) from exc
        else:
            # Buckets written before versions existed have none: version 0 matches those.
            stored: Any = version if version > 0 else {"$in": [0, None]}
            result = await self.collection.replace_one({"_id": key, "version": stored}, body)
            if result.matched_count != 1:
                raise ListingConflictError(key)
        self._keep(key, (written, entries))
        self._held.pop(key, None)  # whatever was held in it is stored now

    def _keep(self, key: str, bucket: tuple[int, list[Doc]]) -> None:
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self._capacity:
            evicted, _ = self._buckets.popitem(last=False)
            self._held.pop(evicted, None)  # mended by its documents' next events


def _worth_saving(stored: Doc, entry: Doc) -> bool:
    """Whether a changed summary is written now: anything but ``updated_at`` at once, a newer
    ``updated_at`` alone once it is :data:`LISTING_REFRESH_S` old (it moves with every progress
    event, which the listing does not show)."""
    if stored == entry:
        return False
    if {**stored, "updated_at": None} != {**entry, "updated_at": None}:
        return True
    then, now = stored.get("updated_at"), entry.get("updated_at")
    if not isinstance(then, datetime) or not isinstance(now, datetime):
        return True
    return (_aware(now) - _aware(then)).total_seconds() >= LISTING_REFRESH_S


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
