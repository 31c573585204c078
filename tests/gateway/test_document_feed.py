"""The document stream's join of read model, Kafka and live events, with fakes for both stores."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import ConsumerRecord

from services.gateway.backfill import Accept, Match
from services.gateway.cursor import Cursor
from services.gateway.deps import FeedDeps
from services.gateway.document_feed import document_feed
from services.gateway.feed import Closing, Frame, Item
from services.gateway.hub import Hub, LiveEvent
from services.gateway.settings import GatewaySettings
from shared.gateway_protocol import CloseCode

DOC = "0" * 32


class _Collection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        assert set(query) == {"_id"}, "the read model is read by _id only"
        return self.docs.get(query["_id"])


class _Kafka:
    """Holds the topic's events; records each read it is asked for."""

    def __init__(self, events: list[LiveEvent]) -> None:
        self.events = events
        self.reads: list[tuple[int, int, int, list[int] | None]] = []

    async def read(
        self,
        partition: int,
        start: int,
        end: int,
        match: Match,
        accept: Accept,
        *,
        only: Sequence[int] | None = None,
    ) -> AsyncIterator[LiveEvent]:
        del match
        self.reads.append((partition, start, end, list(only) if only is not None else None))
        for e in self.events:
            wanted = only is None or e.offset in only or e.offset > max(only, default=-1)
            if e.partition == partition and start <= e.offset < end and wanted and accept(e):
                yield e


def _event(offset: int, type_: str, document_id: str = DOC) -> LiveEvent:
    raw = json.dumps({"id": f"e{offset}", "type": type_, "subject": document_id})
    return LiveEvent(document_id, "alice", type_, 1, 1, offset, raw)


def _deps(doc: dict[str, Any] | None, kafka: _Kafka, wait_s: float = 0.2) -> FeedDeps:
    settings = GatewaySettings(
        auth_secret="x" * 32, unknown_document_wait_s=wait_s, ping_interval_s=0.05
    )
    hub = Hub(recent_documents=100)
    hub.start_at({0: 0, 1: 100})
    db = {"documents": _Collection({DOC: doc} if doc else {})}
    return FeedDeps(hub, kafka, lambda: db, settings)  # type: ignore[arg-type]


async def _take(feed: AsyncIterator[Item], limit: int = 50) -> list[Item]:
    items: list[Item] = []
    async for item in feed:
        items.append(item)
        if isinstance(item, Closing) or len(items) >= limit:
            break
    return items


def _finished_doc() -> dict[str, Any]:
    log = [
        {"type": t, "position": {"partition": 1, "offset": o}}
        for o, t in [
            (10, "document.accepted"),
            (20, "extraction.started"),
            (90, "document.completed"),
        ]
    ]
    return {
        "_id": DOC,
        "owner": "alice",
        "status": "completed",
        "generation": 1,
        "position": {"partition": 1, "offset": 90},
        "_log": log,
    }


async def test_a_resume_reads_only_the_logged_offsets_after_the_cursor() -> None:
    events = [
        _event(10, "document.accepted"),
        _event(15, "document.accepted", "1" * 32),  # another document on the partition
        _event(20, "extraction.started"),
        _event(90, "document.completed"),
    ]
    kafka = _Kafka(events)
    deps = _deps(_finished_doc(), kafka)
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 10}), min_generation=1))
    frames = [i for i in items if isinstance(i, Frame)]
    assert [json.loads(f.text)["event"]["id"] for f in frames] == ["e20", "e90"]
    assert kafka.reads == [(1, 11, 100, [20, 90])]
    assert items[-1] == Closing(CloseCode.DONE, "done")
    assert Cursor.decode(frames[-1].cursor or "").offsets == {1: 90}


async def test_a_cursor_past_the_end_of_a_finished_document_closes_at_once() -> None:
    kafka = _Kafka([])
    deps = _deps(_finished_doc(), kafka)
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 90}), min_generation=1))
    assert items == [Closing(CloseCode.DONE, "done")]
    assert kafka.reads == []


async def test_a_cursor_without_the_documents_partition_is_refused() -> None:
    deps = _deps(_finished_doc(), _Kafka([]))
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({0: 5}), min_generation=1))
    assert items == [Closing(CloseCode.BAD_REQUEST, "bad_cursor")]


async def test_someone_elses_document_and_an_unknown_one_answer_alike_after_the_wait() -> None:
    for doc in (_finished_doc(), None):
        deps = _deps(doc, _Kafka([]), wait_s=0.2)
        started = time.monotonic()
        items = await _take(document_feed(deps, "mallory", DOC, after=None, min_generation=1))
        assert items == [Closing(CloseCode.NOT_FOUND, "not_found")]
        assert 0.2 <= time.monotonic() - started < 0.4


async def test_a_fresh_watch_of_a_running_document_joins_kafka_and_live_without_duplicates() -> (
    None
):
    doc = {**_finished_doc(), "status": "extracting", "position": {"partition": 1, "offset": 20}}
    kafka = _Kafka([_event(20, "extraction.started"), _event(40, "extraction.progressed")])
    deps = _deps(doc, kafka)
    feed = document_feed(deps, "alice", DOC, after=None, min_generation=1)
    snapshot = await anext(feed)
    assert isinstance(snapshot, Frame) and snapshot.type == "snapshot"
    # Kafka gives what lies between the snapshot (20) and the hub's position (100); the
    # terminal event at 100 comes live.
    record_value = json.dumps(
        {"id": "e100", "subject": DOC, "owner": "alice", "type": "document.completed"}
    ).encode()
    record = ConsumerRecord("t", 1, 100, 0, 0, DOC.encode(), record_value, None, 32, 10, [])
    backfilled = await anext(feed)
    await deps.hub.on_record(record)
    items = [backfilled, *await _take(feed)]
    ids = [json.loads(i.text)["event"]["id"] for i in items if isinstance(i, Frame)]
    assert ids == ["e40", "e100"]
    assert kafka.reads == [(1, 21, 100, None)]
    assert items[-1] == Closing(CloseCode.DONE, "done")


def _record(offset: int, type_: str) -> ConsumerRecord[bytes, bytes]:
    value = json.dumps(
        {"id": f"e{offset}", "subject": DOC, "owner": "alice", "type": type_}
    ).encode()
    return ConsumerRecord("t", 1, offset, 0, 0, DOC.encode(), value, None, 32, len(value), [])


def _lagging_doc() -> dict[str, Any]:
    """The read model of a document that has finished on the topic (accepted at 10, completed
    at 11), but whose status fold has only reached its first event."""
    return {
        "_id": DOC,
        "owner": "alice",
        "status": "queued",
        "generation": 1,
        "position": {"partition": 1, "offset": 10},
        "_log": [{"type": "document.accepted", "position": {"partition": 1, "offset": 10}}],
    }


async def test_a_resume_after_the_terminal_event_closes_though_the_fold_has_not_reached_it() -> (
    None
):
    # The client had both events from the other instance; this one's hub saw them too.
    kafka = _Kafka([])
    deps = _deps(_lagging_doc(), kafka)
    for offset, type_ in [(10, "document.accepted"), (11, "document.completed")]:
        await deps.hub.on_record(_record(offset, type_))
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 11}), min_generation=1))
    assert items == [Closing(CloseCode.DONE, "done")]  # not a live wait for an end long past


async def test_a_resume_after_the_terminal_event_of_a_document_not_folded_at_all_closes() -> None:
    deps = _deps(None, _Kafka([]))
    for offset, type_ in [(10, "document.accepted"), (11, "document.completed")]:
        await deps.hub.on_record(_record(offset, type_))
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 11}), min_generation=1))
    assert items == [Closing(CloseCode.DONE, "done")]


async def test_without_the_hubs_memory_kafka_says_whether_the_client_had_the_end() -> None:
    # A freshly started instance: only the topic knows what lies between the fold and the cursor.
    kafka = _Kafka([_event(10, "document.accepted"), _event(11, "document.completed")])
    deps = _deps(_lagging_doc(), kafka)
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 11}), min_generation=1))
    assert items == [Closing(CloseCode.DONE, "done")]
    assert kafka.reads == [(1, 11, 12, None)]  # just the records the fold has not reached


async def test_a_resume_behind_the_end_still_gets_it_when_the_fold_lags() -> None:
    kafka = _Kafka(
        [
            _event(10, "document.accepted"),
            _event(20, "extraction.started"),
            _event(90, "document.completed"),
        ]
    )
    deps = _deps(_lagging_doc(), kafka)
    items = await _take(document_feed(deps, "alice", DOC, after=Cursor({1: 20}), min_generation=1))
    frames = [i for i in items if isinstance(i, Frame)]
    assert [json.loads(f.text)["event"]["id"] for f in frames] == ["e90"]
    assert items[-1] == Closing(CloseCode.DONE, "done")


async def test_a_terminal_event_the_client_had_ends_the_stream_when_it_arrives_live() -> None:
    # This instance's hub is behind the cursor: the end the client had comes live, skipped as
    # seen, and must close the stream rather than be passed over.
    kafka = _Kafka([])
    deps = _deps(_lagging_doc(), kafka)
    deps.hub.start_at({0: 0, 1: 10})
    await deps.hub.on_record(_record(10, "document.accepted"))
    feed = document_feed(deps, "alice", DOC, after=Cursor({1: 11}), min_generation=1)
    taking = asyncio.create_task(_take(feed))
    await asyncio.sleep(0.1)
    await deps.hub.on_record(_record(11, "document.completed"))
    items = await asyncio.wait_for(taking, 1)
    assert not [i for i in items if isinstance(i, Frame)]
    assert items[-1] == Closing(CloseCode.DONE, "done")


def _generation_record(offset: int, type_: str, generation: int) -> ConsumerRecord[bytes, bytes]:
    value = json.dumps(
        {
            "id": f"e{offset}",
            "subject": DOC,
            "owner": "alice",
            "type": type_,
            "generation": generation,
        }
    ).encode()
    return ConsumerRecord("t", 1, offset, 0, 0, DOC.encode(), value, None, 32, len(value), [])


async def test_a_generation_the_document_never_reaches_is_refused_after_the_wait() -> None:
    # Finished at generation 1 and nobody reprocessed it: generation 2 will not come, and the
    # watch must not wait for it until the connection's lifetime runs out.
    deps = _deps(_finished_doc(), _Kafka([]), wait_s=0.2)
    started = time.monotonic()
    items = await _take(document_feed(deps, "alice", DOC, after=None, min_generation=2))
    assert items == [Closing(CloseCode.NOT_FOUND, "unknown_generation")]
    assert 0.2 <= time.monotonic() - started < 0.4


async def test_a_watch_racing_its_reprocess_gets_the_new_generation_to_its_end() -> None:
    # The reprocess has published generation 2's first event, but neither the fold nor this
    # hub has it yet when the watcher of generation 2 arrives.
    deps = _deps(_finished_doc(), _Kafka([]), wait_s=2.0)
    deps.hub.start_at({0: 0, 1: 100})
    taking = asyncio.create_task(
        _take(document_feed(deps, "alice", DOC, after=None, min_generation=2))
    )
    await asyncio.sleep(0.1)
    await deps.hub.on_record(_generation_record(100, "document.accepted", 2))
    await asyncio.sleep(0.1)
    await deps.hub.on_record(_generation_record(101, "document.completed", 2))
    items = await asyncio.wait_for(taking, 1)
    frames = [i for i in items if isinstance(i, Frame)]
    assert [f.type for f in frames] == ["snapshot", "event", "event"]
    assert [json.loads(f.text)["event"]["id"] for f in frames[1:]] == ["e100", "e101"]
    assert items[-1] == Closing(CloseCode.DONE, "done")


async def test_a_generation_the_hub_has_seen_is_not_waited_for() -> None:
    # The fold lags at generation 1; this hub has generation 2's events already.
    deps = _deps(_finished_doc(), _Kafka([]), wait_s=5.0)
    deps.hub.start_at({0: 0, 1: 100})
    await deps.hub.on_record(_generation_record(100, "document.accepted", 2))
    feed = document_feed(deps, "alice", DOC, after=None, min_generation=2)
    snapshot = await asyncio.wait_for(anext(feed), 1)
    assert isinstance(snapshot, Frame) and snapshot.type == "snapshot"
    await feed.aclose()
