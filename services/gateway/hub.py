"""Fan-out of documents.events to the connections watching each document.

The hub also remembers the recent events of recently active documents, so a client that
connects between an event and its fold into the read model still gets it (snapshot position
plus the remembered events after it leave no gap).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord

from services.gateway import metrics
from shared.events import TERMINAL_TYPES

_RECENT_PER_DOCUMENT = 64
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEvent:
    document_id: str
    owner: str
    type: str
    generation: int
    partition: int
    offset: int
    event: dict[str, Any]

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES

    @property
    def is_progress(self) -> bool:
        return self.type.endswith(".progressed")

    def message(self) -> dict[str, Any]:
        return {
            "type": "event",
            "position": {"partition": self.partition, "offset": self.offset},
            "event": self.event,
        }


class Subscription:
    """A bounded queue that coalesces progress but never drops lifecycle events."""

    def __init__(self, document_id: str, owner: str, maxsize: int) -> None:
        self.document_id = document_id
        self.owner = owner
        self._items: deque[LiveEvent] = deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()

    def put(self, item: LiveEvent) -> None:
        if len(self._items) >= self._maxsize:
            for i, queued in enumerate(self._items):
                if queued.is_progress:
                    del self._items[i]
                    metrics.COALESCED.inc()
                    break
        self._items.append(item)
        self._ready.set()

    async def get(self, wait_s: float) -> LiveEvent | None:
        if not self._items:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), wait_s)
            except TimeoutError:
                return None
        return self._items.popleft()


class Hub:
    def __init__(self, recent_documents: int) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)
        self._recent: OrderedDict[str, deque[LiveEvent]] = OrderedDict()
        self._recent_max = recent_documents
        # Per document nobody has heard of yet: its arrival, and how many watchers wait for it.
        self._first_sight: dict[str, tuple[asyncio.Event, int]] = {}

    def subscribe(self, document_id: str, owner: str, maxsize: int) -> Subscription:
        sub = Subscription(document_id, owner, maxsize)
        self._subs[document_id].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.document_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.document_id]

    def recent(self, document_id: str) -> list[LiveEvent]:
        return list(self._recent.get(document_id, ()))

    def owner_of(self, document_id: str) -> str | None:
        events = self._recent.get(document_id)
        return events[-1].owner if events else None

    async def wait_for_owner(self, document_id: str, wait_s: float) -> str | None:
        """The owner of a document nobody has heard of yet, as soon as its first event
        arrives (a watcher racing the upload's first event), or None after ``wait_s``."""
        owner = self.owner_of(document_id)
        if owner is not None or wait_s <= 0:
            return owner
        seen, waiters = self._first_sight.get(document_id) or (asyncio.Event(), 0)
        # Counted: the event is shared by every watcher of the id, and only the last one to
        # give up may remove it (the first to time out used to, and later ones then missed
        # the document's arrival).
        self._first_sight[document_id] = (seen, waiters + 1)
        try:
            await asyncio.wait_for(seen.wait(), wait_s)
        except TimeoutError:
            return None
        finally:
            entry = self._first_sight.get(document_id)
            if entry is not None and entry[0] is seen:
                if entry[1] <= 1:
                    del self._first_sight[document_id]
                else:
                    self._first_sight[document_id] = (seen, entry[1] - 1)
        return self.owner_of(document_id)

    async def on_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        metrics.EVENTS_SEEN.inc()
        try:
            event = json.loads(record.value or b"")
            item = LiveEvent(
                document_id=str(event["subject"]),
                owner=str(event["owner"]),
                type=str(event["type"]),
                generation=int(event.get("generation", 1)),
                partition=record.partition,
                offset=record.offset,
                event=event,
            )
        except (ValueError, KeyError, TypeError):
            return  # not ours; status counts those
        recent = self._recent.get(item.document_id)
        if recent is None:
            recent = self._recent[item.document_id] = deque(maxlen=_RECENT_PER_DOCUMENT)
            while len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(item.document_id)
        recent.append(item)
        waiting = self._first_sight.pop(item.document_id, None)
        if waiting is not None:
            waiting[0].set()
        watchers = 0
        for sub in self._subs.get(item.document_id, ()):
            if sub.owner == item.owner:
                sub.put(item)
                watchers += 1
        if item.terminal:
            # Logged in the record's trace (shared.broadcast): the journey's last hop.
            log.info(
                "document finished; watchers told",
                extra={"document_id": item.document_id, "type": item.type, "watchers": watchers},
            )
