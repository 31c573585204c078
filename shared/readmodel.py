"""The read model's collections, and the reads the API and the gateway make of them.

Every read and write is by ``_id`` alone. That is the one filter FerretDB 1.24 pushes down to
its storage (with the index our wrapper adds, deploy/ferretdb/idindex.go); any other filter,
sort or range makes it decode the whole collection, so its cost would grow with every document
ever stored. What a secondary index would give is kept by the status service as documents
addressed by ``_id``:

- ``documents``: one per document, the whole folded state (``_id`` = document id), its
  processing log (``_log``) included, so the log is exactly as complete as the state;
- ``listings``: each owner's documents, per partition of documents.events, in buckets of
  :data:`BUCKET_SIZE` summaries in the order they arrived (``owner|partition|bucket``), plus a
  head per owner and partition naming the newest bucket (``owner|partition|head``). The
  status replica that folds a partition is the only writer of that partition's buckets, so no
  two writers ever race on one bucket. A list merges the owner's partitions newest first (or
  oldest first) and costs a few reads per page, whatever else is stored;
- ``inflight``: a small marker per document not yet finished (the watchdog's worklist);
- ``links`` (in the base database, like ``admissions``: a rebuild does not refold it): per
  original document (``_id``), the linked duplicates that show its results, so that the status
  service can publish their states again when the original's results change (see
  :func:`with_original`);

The same code runs on MongoDB, where these reads are indexed lookups too.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pymongo.errors import PyMongoError

from shared.ids import created_at_s, is_document_id

log = logging.getLogger(__name__)

DOCUMENTS = "documents"
LISTINGS = "listings"
INFLIGHT = "inflight"
#: Written by ingest (see services/ingest/admissions.py), in the base database.
ADMISSIONS = "admissions"
#: Written by status (services/status/agent.py), in the base database.
LINKS = "links"

# Small: FerretDB decodes a whole document per read (a 100-summary bucket took 5.8 ms to read,
# a 25-summary one about 1.7), and a list's first page reads one bucket per partition.
BUCKET_SIZE = 25

Doc = dict[str, Any]
Order = Literal["newest", "oldest"]


def listing_id(owner: str, partition: int, bucket: int) -> str:
    return f"{owner}|{partition}|{bucket:06d}"


def listing_head_id(owner: str, partition: int) -> str:
    return f"{owner}|{partition}|head"


def content_pointer_id(owner: str, sha256: str) -> str:
    """The admission that names an owner's first document with these bytes."""
    return f"sha|{owner}|{sha256}"


def entry_of(doc: Doc) -> Doc:
    """A document's summary in its owner's listing: what lists filter and stats add up."""
    extraction = doc.get("extraction") or {}
    usage = (doc.get("analysis") or {}).get("usage") or {}
    entry: Doc = {
        "id": doc["_id"],
        "status": doc.get("status"),
        "generation": doc.get("generation", 1),
        "filename": doc.get("filename"),
        "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"),
        "size": doc.get("size"),
        "detected_type": extraction.get("detected_type"),
        "pages": extraction.get("pages"),
        "chars": extraction.get("chars"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cost_usd": usage.get("estimated_cost_usd"),
        "reason": (doc.get("error") or {}).get("reason"),
        "duplicate_of": doc.get("duplicate_of"),
        "deleted": doc.get("deleted"),
    }
    return {k: v for k, v in entry.items() if v is not None}


#: What a linked duplicate shows of its original (a duplicate is never processed itself).
LINKED = ("extraction", "analysis", "text_blob")


def merge_original(doc: Doc, original: Doc | None) -> Doc:
    """A linked duplicate as it is shown (GET /v1/documents/{id} and its state on
    documents.status alike): its own fields, and its original's results in place of
    :data:`LINKED`. The results are merged when the document is shown, never folded into it,
    so a duplicate always shows what its original has *now*: nothing while the original is
    being reprocessed, the new results after, nothing once it is deleted. ``original`` counts
    only if it is the same owner's and still there."""
    if not doc.get("duplicate_of"):
        return doc
    merged = {k: v for k, v in doc.items() if k not in LINKED}
    if original is None or original.get("owner") != doc.get("owner") or original.get("deleted"):
        return merged
    for key in LINKED:
        if key in original:
            merged[key] = original[key]
    return merged


async def with_original(db: Any, doc: Doc) -> Doc:
    """:func:`merge_original` with the original read from the read model by ``_id``."""
    original_id = doc.get("duplicate_of")
    if not original_id or not is_document_id(str(original_id)):
        return doc
    original = await db[DOCUMENTS].find_one({"_id": str(original_id)})
    return merge_original(doc, dict(original) if original is not None else None)


@dataclass(frozen=True)
class ListFilter:
    statuses: frozenset[str] = frozenset()
    detected_type: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    filename_contains: str | None = None

    def matches(self, entry: Doc) -> bool:
        if entry.get("deleted"):
            return False
        if self.statuses and entry.get("status") not in self.statuses:
            return False
        if self.detected_type and entry.get("detected_type") != self.detected_type:
            return False
        created = entry.get("created_at")
        if self.created_from and (created is None or _aware(created) < self.created_from):
            return False
        if self.created_to and (created is None or _aware(created) >= self.created_to):
            return False
        if self.filename_contains:
            name = str(entry.get("filename") or "")
            if self.filename_contains.casefold() not in name.casefold():
                return False
        return True


class CursorError(ValueError):
    pass


@dataclass
class Cursor:
    """Where each partition's walk stopped: (bucket, index) of the next entry to look at, or
    None once that partition is exhausted (the API writes it as text: ingest/queries.py)."""

    order: Order
    positions: dict[int, tuple[int, int] | None] = field(default_factory=dict)


class ReadModel:
    """The queries of ingest and gateway. ``partitions`` is how many partitions
    documents.events has (the listings are kept per partition)."""

    def __init__(self, db: Any, *, partitions: int) -> None:
        self.db = db
        self.partitions = partitions

    async def get(self, document_id: str) -> Doc | None:
        found = await self.db[DOCUMENTS].find_one({"_id": document_id})
        return dict(found) if found is not None else None

    async def with_original(self, doc: Doc) -> Doc:
        """A linked duplicate with its original's results (see :func:`merge_original`)."""
        return await with_original(self.db, doc)

    async def get_folded(self, document_id: str) -> Doc | None:
        """:meth:`get`, waiting briefly for a new document's fold (see :func:`get_folded`)."""
        return await get_folded(self.get, document_id)

    async def page(
        self,
        owner: str,
        *,
        limit: int,
        order: Order = "newest",
        cursor: Cursor | None = None,
        where: ListFilter | None = None,
        max_scanned: int = 100_000,
    ) -> tuple[list[Doc], Cursor | None]:
        """One page of the owner's summaries and the cursor of the next (None at the end)."""
        if cursor is not None and cursor.order != order:
            raise CursorError("the cursor belongs to the other sort order")
        where = where or ListFilter()
        walks = [
            _Walk(self.db, owner, p, order, cursor.positions.get(p, FRESH) if cursor else FRESH)
            for p in range(self.partitions)
        ]
        heap: list[tuple[Any, int, Doc]] = []
        # Every partition's head and first bucket at once: one round trip's wait, not eight.
        for i, entry in enumerate(await asyncio.gather(*(walk.peek() for walk in walks))):
            if entry is not None:
                heapq.heappush(heap, (_sort_key(entry, order), i, entry))
        items: list[Doc] = []
        scanned = 0
        while heap and len(items) < limit and scanned < max_scanned:
            _, i, entry = heapq.heappop(heap)
            walks[i].advance()
            scanned += 1
            if where.matches(entry):
                items.append(entry)
            following = await walks[i].peek()
            if following is not None:
                heapq.heappush(heap, (_sort_key(following, order), i, following))
        if not heap:
            return items, None
        return items, Cursor(order, {i: walk.position for i, walk in enumerate(walks)})

    async def entries(self, owner: str) -> list[Doc]:
        """Every summary of the owner (for stats: cost grows with the owner's documents only)."""
        found: list[Doc] = []
        for partition in range(self.partitions):
            walk = _Walk(self.db, owner, partition, "oldest")
            while (entry := await walk.peek()) is not None:
                walk.advance()
                if not entry.get("deleted"):
                    found.append(entry)
        return found


#: How long a lookup of a new document waits for its fold at most.
FOLD_WAIT_S = 3.0
#: Ids made up to this long ago may not be folded yet: an id is made when its file's bytes
#: start arriving, so a slow upload's id is older by its transfer time when it is answered 202.
NEW_ID_S = 60.0
#: ... and ids up to this far ahead of this host's clock (another host made them).
CLOCK_SKEW_S = 5.0


async def get_folded(
    get: Callable[[str], Awaitable[Doc | None]],
    document_id: str,
    *,
    wait_s: float = FOLD_WAIT_S,
    now: Callable[[], float] = time.time,
) -> Doc | None:
    """``get(document_id)``; when it finds nothing and the id is new, asked again with a
    short backoff for up to ``wait_s`` before saying there is no such document.

    The status service folds documents.events asynchronously: a document answered 202 by
    ingest is in the read model a moment later (about 0.3 s on an idle stack), and a client
    that looks it up, cancels or deletes it at once must not be told it does not exist. Ids
    carry their creation time, so only a miss on a new id waits: an id far in the past or
    the future answers at once, and so does a document that is there (someone else's or
    deleted too: the callers answer those alike, at once)."""
    found = await get(document_id)
    if found is not None or not _may_be_folding(document_id, now()):
        return found
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    delay = 0.02
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(delay, left))
        found = await get(document_id)
        if found is not None:
            return found
        delay = min(delay * 2, 0.25)
    return None


def _may_be_folding(document_id: str, now: float) -> bool:
    if not is_document_id(document_id):
        return False
    age = now - created_at_s(document_id)
    return -CLOCK_SKEW_S <= age <= NEW_ID_S


FRESH = "fresh"


class _Walk:
    """One partition's summaries of an owner, one at a time, in the wanted order."""

    def __init__(
        self, db: Any, owner: str, partition: int, order: Order, start: Any = FRESH
    ) -> None:
        self.db = db
        self.owner = owner
        self.partition = partition
        self.order = order
        self._done = start is None  # a cursor's None: this partition was exhausted already
        self._position: tuple[int, int] | None = start if isinstance(start, tuple) else None
        self._buckets: dict[int, list[Doc]] = {}
        self._head: int | None = None

    @property
    def position(self) -> tuple[int, int] | None:
        return None if self._done else self._position

    async def _bucket(self, number: int) -> list[Doc]:
        if number not in self._buckets:
            doc = await self.db[LISTINGS].find_one(
                {"_id": listing_id(self.owner, self.partition, number)}
            )
            self._buckets[number] = list((doc or {}).get("entries") or [])
        return self._buckets[number]

    async def _head_bucket(self) -> int:
        if self._head is None:
            head = await self.db[LISTINGS].find_one(
                {"_id": listing_head_id(self.owner, self.partition)}
            )
            self._head = int(head["bucket"]) if head else -1
        return self._head

    async def peek(self) -> Doc | None:
        if self._done:
            return None
        if self._position is None:
            head = await self._head_bucket()
            if head < 0:
                self._done = True
                return None
            newest = (head, len(await self._bucket(head)) - 1)
            self._position = newest if self.order == "newest" else (0, 0)
        while True:
            bucket, index = self._position
            entries = await self._bucket(bucket)
            if 0 <= index < len(entries):
                return entries[index]
            if self.order == "newest":
                if bucket == 0:
                    self._done = True
                    return None
                self._position = (bucket - 1, len(await self._bucket(bucket - 1)) - 1)
            else:
                if bucket >= await self._head_bucket():
                    self._done = True
                    return None
                self._position = (bucket + 1, 0)

    def advance(self) -> None:
        assert self._position is not None
        bucket, index = self._position
        self._position = (bucket, index - 1 if self.order == "newest" else index + 1)


def _sort_key(entry: Doc, order: Order) -> Any:
    created = entry.get("created_at")
    stamp = _aware(created).timestamp() if isinstance(created, datetime) else 0.0
    key = (stamp, str(entry.get("id")))
    if order == "oldest":
        return key
    return (-key[0], _invert(key[1]))


def _invert(text: str) -> str:
    # Descending on a string inside an ascending heap: flip each character's order.
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- which database is the read model (a rebuild folds into a fresh one, then switches) ---

META = "meta"
_POINTER = "read_model"


@dataclass(frozen=True)
class Pointer:
    database: str
    ready: bool
    #: Readers stay on this one until ``database`` is ready.
    previous: str | None = None

    @property
    def readable(self) -> str:
        return self.database if self.ready or not self.previous else self.previous


async def read_pointer(client: Any, base: str) -> Pointer:
    """The database the services use; ``base`` itself until a rebuild switched it."""
    found = await client[base][META].find_one({"_id": _POINTER})
    if found is None:
        return Pointer(base, True)
    return Pointer(str(found["database"]), bool(found.get("ready", True)), found.get("previous"))


async def write_pointer(client: Any, base: str, pointer: Pointer) -> None:
    body = {"database": pointer.database, "ready": pointer.ready, "previous": pointer.previous}
    await client[base][META].replace_one({"_id": _POINTER}, body, upsert=True)


class FollowedDatabase:
    """The read model's database for readers (ingest, gateway), following rebuilds: call
    :meth:`refresh` now and then (a read by ``_id``, cheap)."""

    def __init__(self, client: Any, base: str) -> None:
        self.client = client
        self.base = base
        self.name = base

    @property
    def db(self) -> Any:
        return self.client[self.name]

    async def refresh(self) -> bool:
        """True when the database changed."""
        name = (await read_pointer(self.client, self.base)).readable
        changed = name != self.name
        self.name = name
        return changed


async def follow(
    followed: FollowedDatabase, on_change: Callable[[Any], None], *, every_s: float = 2.0
) -> None:
    """Refresh ``followed`` for ever (a task); ``on_change(db)`` after a rebuild's switch."""
    while True:
        await asyncio.sleep(every_s)
        try:
            if await followed.refresh():
                on_change(followed.db)
                log.warning("read model switched", extra={"database": followed.name})
        except PyMongoError as exc:
            log.warning("could not read the read model's pointer", extra={"error": repr(exc)})
