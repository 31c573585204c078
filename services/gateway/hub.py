"""Fan-out of documents.events to the connections of this gateway.

One broadcast consumer reads every partition; each record goes to the subscriptions of its
document and of its owner. The hub also knows, per partition, the offset of the next record
it will hand out (:attr:`Hub.positions`): a subscription taken at that moment receives every
record from there on, so a backfill read from Kafka up to those offsets joins the live stream
with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict, defaultdict, deque
from typing import Any, NamedTuple

from aiokafka import ConsumerRecord

from services.gateway import metrics
from shared import tracing
from shared.events import TERMINAL_TYPES

_RECENT_PER_DOCUMENT = 64
log = logging.getLogger(__name__)


class LiveEvent(NamedTuple):
    """One event of documents.events as the hub hands it out (see :data:`_Kept` for how the
    hub keeps it)."""

    document_id: str
    owner: str
    type: str
    generation: int
    partition: int
    offset: int
    #: The record's value as it came from Kafka: sent on without encoding it again.
    raw: str

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    @property
    def is_progress(self) -> bool:
        return self.type.endswith(".progressed")

    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


def parse_record(record: ConsumerRecord[bytes, bytes]) -> LiveEvent | None:
    """The event in a record of documents.events; None for anything that is not ours."""
    try:
        raw = (record.value or b"").decode()
        event = json.loads(raw)
        return LiveEvent(
            document_id=str(event["subject"]),
            owner=str(event["owner"]),
            type=str(event["type"]),
            generation=int(event.get("generation", 1)),
            partition=record.partition,
            offset=record.offset,
            raw=raw,
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None  # status counts those


#: A LiveEvent as the recent window keeps it: a plain tuple of strings and ints. The garbage
#: collector stops tracking such a tuple the first time it sees it (only exact tuples, not a
#: NamedTuple). Kept as objects, the window's 64,000 events (1,000 busy documents) filled the
#: oldest generation and every full collection walked them, pausing the event loop for up to
#: 250 ms at 6,000 events/s.
_Kept = tuple[str, str, str, int, int, int, str]


class Subscription:
    """A bounded queue that coalesces progress but never drops lifecycle events.

    When it is full of lifecycle events the client cannot keep up at all: the queue marks
    itself overflowed (the connection is then closed) rather than grow or lose one.
    """

    def __init__(self, maxsize: int, *, document_id: str | None, owner: str) -> None:
        self.document_id = document_id
        self.owner = owner
        self.overflowed = False
        self._items: deque[LiveEvent] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()

    def put(self, item: LiveEvent) -> None:
        if self.overflowed:
            return
        if len(self._items) >= self._maxsize:
            for i, queued in enumerate(self._items):
                if queued.is_progress:
                    del self._items[i]
                    metrics.COALESCED.inc()
                    break
            else:
                self.overflowed = True
                self._items.clear()
                self._ready.set()
                return
        self._items.append(item)
        self._ready.set()

    async def get(self, wait_s: float) -> LiveEvent | None:
        """The next event; None after ``wait_s`` without one, or once overflowed."""
        if not self._items and not self.overflowed:
            self._ready.clear()
            # A bare timer that wakes the wait, not asyncio.timeout (a cancellation to undo,
            # a third of the Python work per delivery) nor wait_for (a task per wait).
            timer = asyncio.get_running_loop().call_later(wait_s, self._ready.set)
            try:
                await self._ready.wait()
            finally:
                timer.cancel()
        if self.overflowed or not self._items:
            return None
        return self._items.popleft()


class Hub:
    def __init__(self, recent_documents: int) -> None:
        self._by_document: dict[str, set[Subscription]] = defaultdict(set)
        self._by_owner: dict[str, set[Subscription]] = defaultdict(set)
        self._recent: OrderedDict[str, deque[_Kept]] = OrderedDict()
        self._recent_max = recent_documents
        # Per document a watcher waits to hear of (its first event, or one of a generation
        # not seen yet): its next event's arrival, and how many watchers wait for it.
        self._next_sight: dict[str, tuple[asyncio.Event, int]] = {}
        #: Per partition, the offset of the next record the hub will hand out.
        self.positions: dict[int, int] = {}

    def start_at(self, positions: dict[int, int]) -> None:
        self.positions = dict(positions)

    def subscribe_document(
        self, document_id: str, owner: str, maxsize: int
    ) -> tuple[Subscription, dict[int, int]]:
        """A subscription and the positions it starts at (taken in the same instant)."""
        sub = Subscription(maxsize, document_id=document_id, owner=owner)
        self._by_document[document_id].add(sub)
        return sub, dict(self.positions)

    def subscribe_owner(self, owner: str, maxsize: int) -> tuple[Subscription, dict[int, int]]:
        sub = Subscription(maxsize, document_id=None, owner=owner)
        self._by_owner[owner].add(sub)
        return sub, dict(self.positions)

    def unsubscribe(self, sub: Subscription) -> None:
        index, key = (
            (self._by_document, sub.document_id)
            if sub.document_id is not None
            else (self._by_owner, sub.owner)
        )
        subs = index.get(key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del index[key]

    def recent(self, document_id: str) -> list[LiveEvent]:
        return [LiveEvent._make(kept) for kept in self._recent.get(document_id, ())]

    def owner_of(self, document_id: str) -> str | None:
        events = self._recent.get(document_id)
        return events[-1][1] if events else None

    def generation_of(self, document_id: str, owner: str) -> int:
        """The latest generation among the document's recent events (0: none kept)."""
        kept = self._recent.get(document_id, ())
        return max((item[3] for item in kept if item[1] == owner), default=0)

    async def wait_for_owner(self, document_id: str, wait_s: float) -> str | None:
        """The owner of a document nobody has heard of yet, as soon as its first event
        arrives (a watcher racing the upload's first event), or None after ``wait_s``."""
        owner = self.owner_of(document_id)
        if owner is not None or wait_s <= 0:
            return owner
        await self._sighting(document_id, wait_s)
        return self.owner_of(document_id)

    async def wait_for_generation(
        self, document_id: str, owner: str, generation: int, wait_s: float
    ) -> bool:
        """Whether an event of ``generation`` (or a later one) of the document arrives within
        ``wait_s`` (at once when one has): a watcher racing a reprocess's first event."""
        deadline = time.monotonic() + wait_s
        while self.generation_of(document_id, owner) < generation:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self._sighting(document_id, remaining)
        return True

    async def _sighting(self, document_id: str, wait_s: float) -> None:
        """Until the document's next event arrives, or ``wait_s`` passes."""
        seen, waiters = self._next_sight.get(document_id) or (asyncio.Event(), 0)
        # Counted: the event is shared by every watcher of the id, and only the last one to
        # give up may remove it (the first to time out used to, and later ones then missed
        # the document's arrival).
        self._next_sight[document_id] = (seen, waiters + 1)
        try:
            await asyncio.wait_for(seen.wait(), wait_s)
        except TimeoutError:
            pass
        finally:
            entry = self._next_sight.get(document_id)
            if entry is not None and entry[0] is seen:
                if entry[1] <= 1:
                    del self._next_sight[document_id]
                else:
                    self._next_sight[document_id] = (seen, entry[1] - 1)

    async def on_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        metrics.EVENTS_SEEN.inc()
        self.positions[record.partition] = record.offset + 1
        item = parse_record(record)
        if item is None:
            return
        recent = self._recent.get(item.document_id)
        if recent is None:
            recent = self._recent[item.document_id] = deque(maxlen=_RECENT_PER_DOCUMENT)
            while len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(item.document_id)
        recent.append(tuple(item))  # type: ignore[arg-type]
        waiting = self._next_sight.pop(item.document_id, None)
        if waiting is not None:
            waiting[0].set()
        watchers = 0
        for sub in self._by_document.get(item.document_id, ()):
            if sub.owner == item.owner:
                sub.put(item)
                watchers += 1
        for sub in self._by_owner.get(item.owner, ()):
            sub.put(item)
            watchers += 1
        if item.terminal:
            # In the record's trace: the journey's last hop (only here: a span per record
            # would cost more than the fan-out itself).
            with tracing.consuming(f"fan-out {record.topic}", record.headers):
                log.info(
                    "document finished; watchers told",
                    extra={
                        "document_id": item.document_id,
                        "type": item.type,
                        "watchers": watchers,
                    },
                )
