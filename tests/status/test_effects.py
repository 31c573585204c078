"""What the status service publishes on documents.status: a document's state whenever anything
but its progress changes, its progress at most every ``publish_progress_every_s`` (the latest
one once that has passed), its end and its deletion always."""

from __future__ import annotations

from typing import Any

from benchmarks.bench_read_model import lifecycle
from services.status.agent import OutsideEffects
from services.status.fold import Doc, Position, fold
from services.status.settings import StatusSettings
from shared.events import DocumentDeleted, Envelope, ExtractionProgressed, ProgressData
from shared.mongo import public_view

DOC = "c" * 32
SETTINGS = StatusSettings(auth_secret="x" * 32, topic_prefix="t.", publish_progress_every_s=2.0)


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Envelope]] = []
        self.tombstones: list[tuple[str, str]] = []

    async def send(self, topic: str, event: Envelope) -> None:
        self.sent.append((topic, event))

    async def tombstone(self, topic: str, key: str) -> None:
        self.tombstones.append((topic, key))

    def states(self) -> list[dict[str, Any]]:
        return [event.data.state for _, event in self.sent]  # type: ignore[attr-defined]


class Blobs:
    async def delete_prefix(self, prefix: str) -> int:
        return 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Admissions:
    async def find_one(self, key: Any) -> None:
        return None


def _effects(every_s: float = 2.0) -> tuple[OutsideEffects, Producer, Clock]:
    producer, clock = Producer(), Clock()
    settings = SETTINGS.model_copy(update={"publish_progress_every_s": every_s})
    effects = OutsideEffects(
        settings,
        producer,  # type: ignore[arg-type]
        Blobs(),  # type: ignore[arg-type]
        Admissions,
        read_model=lambda: None,  # never read: no document here is a linked duplicate
        links=lambda: None,
        clock=clock,
    )
    return effects, producer, clock


def _pages(n: int, total: int = 15) -> list[Any]:
    common = {"source": "/t", "subject": DOC, "owner": "alice", "generation": 1}
    return [
        ExtractionProgressed(**common, data=ProgressData(stage="extraction", done=d, total=total))
        for d in range(1, n + 1)
    ]


def _fifteen_pages() -> list[Any]:
    """A finished document whose 15 pages are reported one by one, as the extractor does."""
    events = lifecycle(DOC, "alice")
    return [*events[:2], *_pages(15), *events[4:]]


class Folding:
    """Folds events one batch each, through the effects, as the store does."""

    def __init__(self, effects: OutsideEffects) -> None:
        self.effects = effects
        self.doc: Doc | None = None
        self.offset = 0

    async def __call__(self, event: Any) -> None:
        new = fold(self.doc, event, Position(0, self.offset))
        self.offset += 1
        assert new is not None
        await self.effects.before_write(self.doc, new)
        self.doc = new


async def test_a_document_folded_event_by_event_publishes_its_changes_not_each_page() -> None:
    effects, producer, _ = _effects()
    folding = Folding(effects)
    events = _fifteen_pages()
    for event in events:  # all within the interval
        await folding(event)
    statuses = [state["status"] for state in producer.states()]
    # One record per status (six), none for the 15 pages; every change but progress at once.
    assert statuses == ["queued", "extracting", "extracted", "analyzing", "analyzed", "completed"]
    assert producer.states()[2]["extraction"]["pages"] == 15
    assert "analysis" in producer.states()[4]
    # The last record is the final state, as the read model holds it.
    assert folding.doc is not None
    assert producer.states()[-1] == public_view(folding.doc)
    assert {topic for topic, _ in producer.sent} == {"t.documents.status"}


async def test_progress_alone_waits_for_the_interval_and_the_latest_is_then_published() -> None:
    effects, producer, clock = _effects()
    folding = Folding(effects)
    for event in lifecycle(DOC, "alice")[:2]:
        await folding(event)
    assert len(producer.sent) == 2
    pages = _pages(6)
    for event in pages[:3]:
        clock.now += 0.5  # 1.5 s after the last record: held
        await folding(event)
    assert len(producer.sent) == 2
    await effects.flush({0})
    assert len(producer.sent) == 2  # not yet two seconds
    clock.now += 0.5
    await folding(pages[3])  # two seconds since the last record: published with the change
    assert producer.states()[-1]["progress"]["done"] == 4
    clock.now += 1.0
    await folding(pages[4])
    await folding(pages[5])
    await effects.flush({0})
    assert len(producer.sent) == 3  # held
    clock.now += 1.0
    await effects.flush({0})  # the document stopped moving: its latest state goes out
    assert len(producer.sent) == 4
    assert producer.states()[-1]["progress"]["done"] == 6
    assert folding.doc is not None and producer.states()[-1] == public_view(folding.doc)
    clock.now += 10.0
    await effects.flush({0})
    assert len(producer.sent) == 4  # nothing held any more


async def test_the_end_is_always_published_and_a_held_state_never_after_it() -> None:
    effects, producer, clock = _effects()
    folding = Folding(effects)
    events = _fifteen_pages()
    for event in events[:-1]:
        await folding(event)
    clock.now += 0.1
    late = _pages(3)[-1]
    await folding(events[-1])  # completed, a moment after the previous record
    await folding(late)  # a late page after the end: the final state moves, and is published
    assert folding.doc is not None and folding.doc["status"] == "completed"
    assert producer.states()[-1] == public_view(folding.doc)
    assert producer.states()[-1]["events_folded"] == len(events) + 1
    sent = len(producer.sent)
    clock.now += 10.0
    await effects.flush({0})
    assert len(producer.sent) == sent


async def test_a_deleted_document_gets_its_tombstone_and_loses_what_was_held() -> None:
    effects, producer, clock = _effects()
    folding = Folding(effects)
    for event in [*lifecycle(DOC, "alice")[:2], *_pages(2)]:
        await folding(event)
    assert len(producer.sent) == 2  # the pages are held
    common = {"source": "/t", "subject": DOC, "owner": "alice", "generation": 1}
    await folding(DocumentDeleted(**common))
    assert producer.tombstones == [("t.documents.status", DOC)]
    clock.now += 10.0
    await effects.flush({0})
    assert len(producer.sent) == 2  # nothing after the tombstone


async def test_held_states_of_partitions_no_longer_ours_are_dropped() -> None:
    effects, producer, clock = _effects()
    folding = Folding(effects)
    for event in [*lifecycle(DOC, "alice")[:2], *_pages(2)]:
        await folding(event)
    clock.now += 10.0
    await effects.flush({1, 2})  # partition 0 moved to another replica
    await effects.flush({0})
    assert len(producer.sent) == 2
    for event in _pages(3)[2:]:
        await folding(event)  # ten seconds since the last record: published at once
    assert len(producer.sent) == 3
    await folding(_pages(4)[3])
    effects.forget()  # a rebalance: nothing held survives it
    clock.now += 10.0
    await effects.flush({0})
    assert len(producer.sent) == 3


async def test_an_interval_of_zero_publishes_every_change() -> None:
    effects, producer, _ = _effects(every_s=0.0)
    folding = Folding(effects)
    events = _fifteen_pages()
    for event in events:
        await folding(event)
    assert len(producer.sent) == len(events)
