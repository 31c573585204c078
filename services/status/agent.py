"""What status does with a batch of lifecycle events: grouped per document, folded and
written (:class:`BatchWriter`), and what a document's new state means outside the database
(:class:`OutsideEffects`). services/status/app.py feeds it the batches and commits them only
once they are in the read model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Collection, Sequence
from typing import Any

from pydantic import ValidationError
from pymongo.errors import PyMongoError

from services.status import metrics, store
from services.status.fold import TERMINAL, Position
from services.status.settings import StatusSettings
from shared import tracing
from shared.blobs import BlobStore, document_blob_prefix
from shared.events import TERMINAL_TYPES, DocumentUpdated, StateData, decode
from shared.kafka import EventProducer
from shared.mongo import public_view
from shared.readmodel import DOCUMENTS, LINKED, content_pointer_id, merge_original, with_original
from shared.record_consumer import Record

log = logging.getLogger(__name__)
SOURCE = "/docstream/status"
#: What a document's state may change in without being published at once: its progress and
#: what every event moves (``_`` fields are not in the published state at all).
PROGRESS_ONLY = frozenset({"progress", "updated_at", "last_event_id", "events_folded", "position"})


class OutsideEffects:
    """What a document's new state means outside the database: its latest state on the
    compacted documents.status topic (a tombstone once deleted), and a deleted document's
    files removed.

    The state published is the document as GET /v1/documents/{id} shows it: a linked
    duplicate with its original's results (shared/readmodel.py:merge_original; the fold never
    copies them). A duplicate is linked only to a completed original, so its results are in
    the read model when the duplicate is folded. When an original's results change later (it
    is reprocessed or deleted), its duplicates' states are published again, found through the
    ``links`` collection (written here when a duplicate is first folded; by ``_id``).

    The state is published before the database write, so a crash in between replays it. Every
    change but progress is published at once; a change of progress alone at most every
    ``publish_progress_every_s`` per document, else it is held and :meth:`flush` publishes the
    latest held state once that time has passed (a document that stopped moving). A held state
    is newer than what the topic shows only in progress: the next other change (its end always
    is one) publishes the whole state, so a crash or a moved partition that loses a held state
    loses no end. Held states are published only under :attr:`sending`, which the agent holds
    around each batch, so one never lands after a newer state of its document."""

    def __init__(
        self,
        settings: StatusSettings,
        producer: EventProducer,
        blobs: BlobStore,
        admissions: Callable[[], Any],
        *,
        read_model: Callable[[], Any],
        links: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
        remembered: int = 10_000,
    ):
        self.topic = settings.topics.status
        self.producer = producer
        self.blobs = blobs
        self._admissions = admissions
        #: The read model's database now (a rebuild switches it) and the base database's
        #: ``links`` collection (kept across rebuilds, which fold without these effects).
        self._read_model = read_model
        self._links = links
        self.every_s = settings.publish_progress_every_s
        self._clock = clock
        self._capacity = remembered
        #: Per document, when its state was last published (this replica's clock).
        self._published: OrderedDict[str, float] = OrderedDict()
        #: Per document, its latest state not published yet (progress alone changed).
        self._held: dict[str, dict[str, Any]] = {}
        self.sending = asyncio.Lock()

    def forget(self) -> None:
        """Partitions moved: their documents' next states come from whichever replica has them
        now (a state held here must not land after theirs)."""
        self._published.clear()
        self._held.clear()

    async def before_write(self, before: dict[str, Any] | None, doc: dict[str, Any]) -> None:
        document_id = str(doc["_id"])
        if doc.get("deleted"):
            self._held.pop(document_id, None)
            removed = await self.blobs.delete_prefix(document_blob_prefix(document_id))
            if removed:
                log.info(
                    "files of a deleted document removed",
                    extra={"document_id": document_id, "files": removed},
                )
            await self._forget_content(before, document_id)
            await self.producer.tombstone(self.topic, document_id)
            await self._publish_duplicates(before, doc)
            return
        original = doc.get("duplicate_of")
        if original and not (before or {}).get("duplicate_of"):
            # Before its state is published: an original that changes from now on finds it.
            await self._links().update_one(
                {"_id": str(original)}, {"$addToSet": {"duplicates": document_id}}, upsert=True
            )
        now = self._clock()
        if self._holds(before, doc, now):
            self._held[document_id] = doc
            return
        await self._publish(doc, now)
        await self._publish_duplicates(before, doc)

    async def flush(self, partitions: Collection[int] | None = None) -> None:
        """Publish the held states that have waited long enough (of documents on
        ``partitions``, when given; the others are dropped: no longer ours)."""
        now = self._clock()
        due = []
        for document_id, doc in list(self._held.items()):
            if partitions is not None and int(doc["position"]["partition"]) not in partitions:
                del self._held[document_id]
            elif now - self._published.get(document_id, float("-inf")) >= self.every_s:
                due.append(self._held.pop(document_id))
        await asyncio.gather(*(self._publish(doc, now) for doc in due))

    def _holds(self, before: dict[str, Any] | None, doc: dict[str, Any], now: float) -> bool:
        """Whether this state waits: only progress changed, and its last state is recent."""
        if before is None or doc.get("status") in TERMINAL:
            return False
        last = self._published.get(str(doc["_id"]))
        if last is None or now - last >= self.every_s:
            return False
        for key in before.keys() | doc.keys():
            if key in PROGRESS_ONLY or key.startswith("_"):
                continue
            was, now_is = before.get(key), doc.get(key)
            if was is not now_is and was != now_is:
                return False
        return True

    async def _publish(self, doc: dict[str, Any], now: float) -> None:
        document_id = str(doc["_id"])
        # This is the document's newest state: what was held is older (a flush pops its own).
        self._held.pop(document_id, None)
        await self._send(await with_original(self._read_model(), doc))
        self._published[document_id] = now
        self._published.move_to_end(document_id)
        while len(self._published) > self._capacity:
            self._published.popitem(last=False)

    async def _send(self, shown: dict[str, Any]) -> None:
        update = DocumentUpdated(
            source=SOURCE,
            subject=str(shown["_id"]),
            owner=str(shown["owner"]),
            generation=int(shown.get("generation", 1)),
            data=StateData(state=public_view(shown)),
        )
        await self.producer.send(self.topic, update)

    async def _publish_duplicates(self, before: dict[str, Any] | None, doc: dict[str, Any]) -> None:
        """The states of ``doc``'s linked duplicates again, when the results they show from it
        changed (a reprocess clears and then replaces them, a delete removes them).

        Only a document that completed once can have duplicates (ingest links to completed
        documents only), so a first generation on its way costs no read. A duplicate linked
        at the very moment its original changes may keep the results it was first shown
        with (its state was published from the read model before the original's new state
        was written there); GET always merges the original's current results."""
        if before is None or not (
            before.get("status") == "completed" or int(before.get("generation", 1)) > 1
        ):
            return
        if all(before.get(key) == doc.get(key) for key in LINKED):
            return
        document_id = str(doc["_id"])
        found = await self._links().find_one({"_id": document_id})
        documents = self._read_model()[DOCUMENTS]
        for duplicate_id in (found or {}).get("duplicates") or []:
            duplicate = await documents.find_one({"_id": duplicate_id})
            if (
                duplicate is None
                or duplicate.get("deleted")
                or duplicate.get("duplicate_of") != document_id
            ):
                continue  # deleted meanwhile: its tombstone is its last state
            await self._send(merge_original(dict(duplicate), doc))
        if found is not None and doc.get("deleted"):
            await self._links().delete_one({"_id": document_id})

    async def _forget_content(self, before: dict[str, Any] | None, document_id: str) -> None:
        """A later upload of the same bytes must not be linked to the deleted document."""
        if not before or not before.get("sha256"):
            return
        key = {"_id": content_pointer_id(str(before["owner"]), str(before["sha256"]))}
        pointer = await self._admissions().find_one(key)
        if pointer is not None and pointer.get("document_id") == document_id:
            await self._admissions().delete_one(key)


class FoldProgress:
    """How far the fold is behind the log, per partition, for the watchdog: a read model
    that trails its log would make busy documents look stalled. A partition is judged only
    once this replica has folded something on it, or held it quietly for a sweep."""

    def __init__(self) -> None:
        self._folded: dict[int, int] = {}
        self._held: set[int] = set()

    def folded(self, partition: int, offset: int) -> None:
        self._folded[partition] = max(offset, self._folded.get(partition, -1))

    def lags(self, highwaters: dict[int, int]) -> dict[int, int | None]:
        lags: dict[int, int | None] = {}
        for partition, highwater in highwaters.items():
            if partition not in self._held:
                # Newly assigned: what we folded on it before may be stale (another replica
                # had it meanwhile), and what is buffered now is not folded yet.
                self._folded.pop(partition, None)
                lags[partition] = None
                continue
            last = self._folded.get(partition)
            # Nothing folded since we got it: quiet since the previous sweep.
            lags[partition] = highwater - (last + 1) if last is not None else 0
        self._held = set(highwaters)
        return lags


class BatchWriter:
    """Folds a batch and writes it, whatever it takes: returns only when every event is in
    the read model, or (a document whose events make our own code fail every time) parked on
    ``documents.events.dlt`` so one poison document cannot hold its partition for ever."""

    def __init__(
        self, read_model: store.ReadModelStore, producer: EventProducer, settings: StatusSettings
    ) -> None:
        self.store = read_model
        self.producer = producer
        self.settings = settings

    async def write(self, batch: Sequence[Record]) -> None:
        per_document: dict[str, list[store.Folded]] = defaultdict(list)
        raw: dict[str, list[Record]] = defaultdict(list)
        for ev in batch:
            try:
                event = decode(ev.value or b"")
            except ValidationError:
                metrics.EVENTS_FOLDED.labels("invalid").inc()
                log.warning(
                    "not a docstream event; skipped",
                    extra={"partition": ev.partition, "offset": ev.offset},
                )
                continue
            position = Position(ev.partition, ev.offset)
            per_document[event.subject].append((event, position))
            raw[event.subject].append(ev)
        writes = [self._write_document(d, evs, raw[d]) for d, evs in per_document.items()]
        await asyncio.gather(*writes)
        for document_id, folded in per_document.items():
            for (event, _), ev in zip(folded, raw[document_id], strict=True):
                if event.type in TERMINAL_TYPES:
                    # In the document's trace: its journey ends here in the read model.
                    with tracing.consuming("fold documents.events", ev.headers):
                        log.info(
                            "document finished",
                            extra={"document_id": document_id, "type": event.type},
                        )

    async def _write_document(
        self, document_id: str, events: list[store.Folded], raw: list[Record]
    ) -> None:
        delay = 0.1
        bugs = 0
        while True:
            try:
                await self.store.apply(document_id, events)
                return
            except (PyMongoError, store.WriteConflictError) as exc:
                # The database is down or busy: wait for it, however long (nothing is acked).
                metrics.WRITE_RETRIES.labels(type(exc).__name__).inc()
                log.warning(
                    "read model write failed; retrying",
                    extra={"document_id": document_id, "error": repr(exc), "retry_in_s": delay},
                )
            except Exception as exc:
                bugs += 1
                log.exception(
                    "folding a document failed",
                    extra={"document_id": document_id, "attempt": bugs},
                )
                if bugs >= self.settings.poison_attempts:
                    await self._park(document_id, raw, exc)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _park(self, document_id: str, raw: list[Record], exc: Exception) -> None:
        metrics.EVENTS_FOLDED.labels("dead_lettered").inc(len(raw))
        topic = self.settings.topics.dead_letter(self.settings.topics.events)
        for ev in raw:
            await self.producer.dead_letter(
                topic,
                ev.key,
                ev.value,
                error=f"fold failed: {exc!r}",
                source=self.settings.topics.events,
                partition=ev.partition,
                offset=ev.offset,
            )
        log.error("events of a document dead-lettered", extra={"document_id": document_id})


async def until_done(call: Any, what: str) -> Any:
    delay = 0.2
    while True:
        try:
            return await call()
        except PyMongoError as exc:
            log.warning(f"{what} failed; retrying", extra={"error": repr(exc)})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
