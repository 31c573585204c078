"""The read-model store on the real FerretDB: cached reads, guarded writes, lost races."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from services.status.fold import Position
from services.status.store import ReadModelStore
from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentCompleted,
    ExtractionStarted,
)

DOC = "e" * 32


class Count(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"find", "insert", "update", "delete"}:
            self.commands.append(f"{event.command_name} {event.command[event.command_name]}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _ev(cls: Any, **kw: Any) -> Any:
    return cls(source="/t", subject=DOC, owner="alice", generation=1, **kw)


async def test_a_stale_replica_refolds_instead_of_overwriting(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    collection = db["documents"]
    try:
        # Guarded writes, as on MongoDB (on FerretDB they are off: see the store's docstring).
        first, second = ReadModelStore(db, guarded=True), ReadModelStore(db, guarded=True)
        accepted = _ev(DocumentAccepted, data=AcceptedData(filename="f", size=1, sha256="s"))
        await first.apply(DOC, [(accepted, Position(0, 0))])
        await second.apply(DOC, [(_ev(ExtractionStarted), Position(0, 1))])  # reads, caches
        await first.apply(DOC, [(_ev(DocumentCompleted), Position(0, 2))])  # stale cache: loses
        stored = await collection.find_one({"_id": DOC})
        assert stored is not None
        assert stored["status"] == "completed"
        assert stored["position"] == {"partition": 0, "offset": 2}
        assert stored["filename"] == "f"
        # Redelivery of an old event changes nothing, from either replica.
        await second.apply(DOC, [(accepted, Position(0, 0))])
        again = await collection.find_one({"_id": DOC})
        assert again == stored
        # Finished: no in-flight marker left; one summary in the owner's listing.
        assert await db["inflight"].find_one({"_id": DOC}) is None
        listing = await db["listings"].find_one({"_id": "alice|0|000000"})
        assert listing is not None
        assert [e["id"] for e in listing["entries"]] == [DOC]
        assert listing["entries"][0]["status"] == "completed"
    finally:
        await client.drop_database(collection.database.name)
        await client.close()


async def test_listing_keeps_creation_order_and_one_entry_per_document(mongo_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    try:
        store = ReadModelStore(db, guarded=False)
        t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
        ids = [f"{i:032x}" for i in range(3)]

        def accepted(doc_id: str, seconds: int) -> Any:
            return DocumentAccepted(
                source="/t",
                subject=doc_id,
                owner="olga",
                generation=1,
                time=t0 + timedelta(seconds=seconds),
                data=AcceptedData(filename=doc_id[-4:], size=1, sha256="s"),
            )

        # Folded out of creation order, as concurrent documents of one batch can be.
        await store.apply(ids[2], [(accepted(ids[2], 2), Position(0, 2))])
        await store.apply(ids[0], [(accepted(ids[0], 0), Position(0, 0))])
        await store.apply(ids[1], [(accepted(ids[1], 1), Position(0, 1))])
        started = ExtractionStarted(source="/t", subject=ids[2], owner="olga", generation=1)
        await store.apply(ids[2], [(started, Position(0, 3))])  # its index moved meanwhile
        await store.write_held(all_of_them=True)  # a status between creation and end waits
        bucket = await db["listings"].find_one({"_id": "olga|0|000000"})
        assert bucket is not None
        assert [e["id"] for e in bucket["entries"]] == ids
        assert bucket["entries"][2]["status"] == "extracting"
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_a_document_folded_event_by_event_writes_little_beyond_itself(mongo_url: str) -> None:
    """The fold's cost is its round trips: per batch a document is written once; its listing
    summary and in-flight marker only when what they show changes (status, generation); its
    state on documents.status only when more than its progress changes, its end included."""
    from benchmarks.bench_read_model import lifecycle
    from services.status.agent import OutsideEffects
    from services.status.settings import StatusSettings
    from shared.events import ExtractionProgressed, ProgressData
    from shared.mongo import public_view
    from tests.status.test_effects import Blobs, Producer

    settings = StatusSettings(auth_secret="x" * 32, publish_progress_every_s=60.0)

    count = Count()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[count]
    )
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    try:
        for guarded in (False, True):
            document_id = uuid.uuid4().hex
            events = lifecycle(document_id, "alice")
            # 15 pages reported one by one, as the extractor does, after the two of the lifecycle
            common = {"source": "/t", "subject": document_id, "owner": "alice", "generation": 1}
            pages = [
                ExtractionProgressed(
                    **common, data=ProgressData(stage="extraction", done=n, total=15)
                )
                for n in range(1, 16)
            ]
            events = [*events[:2], *pages, *events[4:]]
            producer = Producer()
            effects = OutsideEffects(
                settings,
                producer,  # type: ignore[arg-type]
                Blobs(),  # type: ignore[arg-type]
                lambda: db["admissions"],
                read_model=lambda: db,
                links=lambda: db["links"],
            )
            store = ReadModelStore(db, guarded=guarded, before_write=effects.before_write)
            count.commands.clear()
            for offset, event in enumerate(events):  # one batch per event: the worst case
                await store.apply(document_id, [(event, Position(0, offset))])
            # One document write per batch; the summary and the marker once per status (the
            # lifecycle has six) plus their first writes; nothing read twice.
            assert count.commands.count("update documents") == len(events) - 1, count.commands
            assert count.commands.count("update listings") <= 8, count.commands
            assert count.commands.count("update inflight") <= 6, count.commands
            assert len([c for c in count.commands if c.startswith("find")]) <= 5, count.commands
            stored = await db["documents"].find_one({"_id": document_id})
            assert stored is not None and stored["status"] == "completed"
            listing = await db["listings"].find_one({"_id": "alice|0|000000"})
            assert listing is not None
            entry = next(e for e in listing["entries"] if e["id"] == document_id)
            assert entry["status"] == "completed" and entry["pages"] == 15
            assert entry["updated_at"] == stored["updated_at"]
            assert await db["inflight"].find_one({"_id": document_id}) is None
            # Its state once per status (six), not once per event (22), the end last.
            states = [event.data.state for _, event in producer.sent]  # type: ignore[attr-defined]
            assert [s["status"] for s in states] == [
                "queued",
                "extracting",
                "extracted",
                "analyzing",
                "analyzed",
                "completed",
            ]
            final = public_view(stored)  # as stored: its times to the millisecond
            assert {k: v for k, v in states[-1].items() if not k.endswith("_at")} == {
                k: v for k, v in final.items() if not k.endswith("_at")
            }
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_finished_documents_are_recorded_without_reading_their_bucket_each_time(
    mongo_url: str,
) -> None:
    """The finishing hour's bucket and the partition's first hour are read once, then known:
    the replica folding a partition is their only writer."""
    from benchmarks.bench_read_model import lifecycle
    from services.status.housekeeping import FINISHED

    count = Count()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[count]
    )
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    try:
        store = ReadModelStore(db, guarded=False)
        ids = [uuid.uuid4().hex for _ in range(5)]
        for n, document_id in enumerate(ids):
            events = lifecycle(document_id, "alice")
            await store.apply(
                document_id, [(e, Position(0, n * 10 + i)) for i, e in enumerate(events)]
            )
        finished = [c for c in count.commands if c.endswith(f" {FINISHED}")]
        buckets = [b async for b in db[FINISHED].find({"ids": {"$exists": True}})]
        assert sorted(i for b in buckets for i in b["ids"]) == sorted(ids)
        # Each bucket (one, unless the hour turned meanwhile) and the first hour read once;
        # the bucket written per document, the first hour once.
        assert finished.count(f"find {FINISHED}") == len(buckets) + 1, finished
        assert finished.count(f"update {FINISHED}") == len(ids) + 1, finished
        assert await db[FINISHED].find_one({"_id": "first|0"}) is not None
        # Replayed (the cache dropped, as when partitions move): nothing recorded twice.
        store.forget()
        for document_id in ids:
            store.finished.forget()
            doc = await db["documents"].find_one({"_id": document_id})
            assert doc is not None
            await store.finished.record(db, doc, doc["finished_at"])
        again = [b async for b in db[FINISHED].find({"ids": {"$exists": True}})]
        assert again == buckets
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_changes_between_creation_and_end_wait_and_a_quick_document_never_writes_them(
    mongo_url: str,
) -> None:
    """A listed summary's and a marker's status between a document's creation and its end
    wait for ``write_held``; creation and end are written at once. A document that finishes
    within the wait costs two listing writes and one marker write (and its removal)."""
    from benchmarks.bench_read_model import lifecycle

    count = Count()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[count]
    )
    db = client[f"store_{uuid.uuid4().hex[:8]}"]

    async def listed(document_id: str) -> str:
        bucket = await db["listings"].find_one({"_id": "alice|0|000000"})
        assert bucket is not None
        return str(next(e for e in bucket["entries"] if e["id"] == document_id)["status"])

    async def marked(document_id: str) -> str | None:
        marker = await db["inflight"].find_one({"_id": document_id})
        return None if marker is None else str(marker["status"])

    try:
        store = ReadModelStore(db, guarded=False, hold_s=60.0)
        slow = uuid.uuid4().hex
        accepted, started, *rest = lifecycle(slow, "alice")
        await store.apply(slow, [(accepted, Position(0, 0))])
        assert (await listed(slow), await marked(slow)) == ("queued", "queued")
        await store.apply(slow, [(started, Position(0, 1))])
        stored = await db["documents"].find_one({"_id": slow})
        assert stored is not None and stored["status"] == "extracting"  # never held
        await store.write_held()  # not waited long enough
        assert (await listed(slow), await marked(slow)) == ("queued", "queued")
        await store.write_held(all_of_them=True)
        assert (await listed(slow), await marked(slow)) == ("extracting", "extracting")

        quick = uuid.uuid4().hex
        count.commands.clear()
        for offset, event in enumerate(lifecycle(quick, "alice"), start=10):
            await store.apply(quick, [(event, Position(0, offset))])  # a batch per event
        assert count.commands.count("update listings") == 2, count.commands
        assert count.commands.count("update inflight") == 1, count.commands
        assert count.commands.count("delete inflight") == 1, count.commands
        assert (await listed(quick), await marked(quick)) == ("completed", None)
        # The slow one's end, after its held analysis status: written at once, nothing left.
        for offset, event in enumerate(rest, start=2):
            await store.apply(slow, [(event, Position(0, offset))])
        assert (await listed(slow), await marked(slow)) == ("completed", None)
        count.commands.clear()
        await store.write_held(all_of_them=True)
        assert count.commands == []
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_a_held_summary_goes_out_with_any_write_of_its_bucket(mongo_url: str) -> None:
    from benchmarks.bench_read_model import lifecycle

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    try:
        store = ReadModelStore(db, guarded=True, hold_s=60.0)
        first, second = uuid.uuid4().hex, uuid.uuid4().hex
        one = lifecycle(first, "alice")
        await store.apply(first, [(one[0], Position(0, 0))])
        await store.apply(first, [(one[1], Position(0, 1))])  # held: extracting
        await store.apply(second, [(lifecycle(second, "alice")[0], Position(0, 2))])  # appended
        bucket = await db["listings"].find_one({"_id": "alice|0|000000"})
        assert bucket is not None
        assert [(e["id"], e["status"]) for e in bucket["entries"]] == [
            (first, "extracting"),
            (second, "queued"),
        ]
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_a_linked_duplicates_state_shows_what_get_shows_as_its_original_changes(
    mongo_url: str,
) -> None:
    """documents.status carries a linked duplicate as GET /v1/documents/{id} shows it: with
    its original's extraction, analysis and text, published again when the original is
    reprocessed (nothing while it runs, the new results after) and when it is deleted."""
    from benchmarks.bench_read_model import lifecycle
    from services.status.agent import OutsideEffects
    from services.status.settings import StatusSettings
    from shared.events import (
        AnalysisCompleted,
        AnalysisCompletedData,
        BlobRef,
        DocumentDeleted,
        ExtractionCompleted,
    )
    from shared.mongo import public_view
    from shared.readmodel import LINKED, with_original
    from tests.status.test_effects import Blobs, Producer

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    try:
        producer = Producer()
        effects = OutsideEffects(
            StatusSettings(auth_secret="x" * 32),
            producer,  # type: ignore[arg-type]
            Blobs(),  # type: ignore[arg-type]
            lambda: db["admissions"],
            read_model=lambda: db,
            links=lambda: db["links"],
        )
        store = ReadModelStore(db, guarded=False, before_write=effects.before_write)
        original, copy = uuid.uuid4().hex, uuid.uuid4().hex
        offsets = iter(range(1000))

        async def apply(document_id: str, events: list[Any]) -> None:
            await store.apply(document_id, [(e, Position(0, next(offsets))) for e in events])

        def latest(document_id: str) -> dict[str, Any]:
            return [e.data.state for _, e in producer.sent if e.subject == document_id][-1]  # type: ignore[attr-defined]

        async def shown(document_id: str) -> dict[str, Any]:
            """As GET shows it (the same merge ingest makes), times left aside (the
            database keeps milliseconds)."""
            stored = await db["documents"].find_one({"_id": document_id})
            assert stored is not None
            view = public_view(await with_original(db, dict(stored)))
            return {k: v for k, v in view.items() if not k.endswith("_at")}

        def untimed(state: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in state.items() if not k.endswith("_at")}

        text = BlobRef(key=f"documents/{original}/text.txt", size=10)
        first = lifecycle(original, "alice")
        first[4] = ExtractionCompleted(
            **_common(original, 1), data=first[4].data.model_copy(update={"text_blob": text})
        )
        await apply(original, first)
        accepted = DocumentAccepted(
            **_common(copy, 1),
            data=AcceptedData(filename="copy.pdf", size=1, sha256="0" * 64, duplicate_of=original),
        )
        await apply(copy, [accepted, DocumentCompleted(**_common(copy, 1))])
        state = latest(copy)
        assert state["duplicate_of"] == original and state["status"] == "completed"
        assert state["text_blob"] == {"key": text.key, "size": 10}
        assert "summary" in state["analysis"] and state["extraction"]["pages"] == 15
        assert untimed(state) == await shown(copy)

        # The original reprocessed: while it runs its duplicate shows no results, as GET does.
        again = [e.model_copy(update={"generation": 2}) for e in lifecycle(original, "alice")]
        await apply(original, again[:1])
        assert not latest(copy).keys() & set(LINKED)
        assert untimed(latest(copy)) == await shown(copy)
        summary = "The second opinion."
        analysis = again[6].data.analysis.model_copy(update={"summary": summary})
        again[6] = AnalysisCompleted(
            **_common(original, 2), data=AnalysisCompletedData(analysis=analysis)
        )
        await apply(original, again[1:])
        assert latest(copy)["analysis"]["summary"] == summary
        assert untimed(latest(copy)) == await shown(copy)

        # The original deleted: the duplicate stays, without results (GET answers the same).
        await apply(original, [DocumentDeleted(**_common(original, 2))])
        assert not latest(copy).keys() & set(LINKED)
        assert untimed(latest(copy)) == await shown(copy)
        assert await db["links"].find_one({"_id": original}) is None
    finally:
        await client.drop_database(db.name)
        await client.close()


def _common(document_id: str, generation: int) -> dict[str, Any]:
    return {"source": "/t", "subject": document_id, "owner": "alice", "generation": generation}
