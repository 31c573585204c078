"""Properties of the status fold, over generated event histories (hypothesis).

Kafka keeps one partition in order, so what the fold must survive is what delivery really does:
replays of a prefix after a crash (duplicates), documents interleaved in any order, and late
events of a generation a reprocess replaced. Each must give the state of the plain history.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.status.fold import Position, fold
from shared.events import (
    AcceptedData,
    AnalysisStarted,
    DocumentAccepted,
    DocumentCancelled,
    DocumentCompleted,
    DocumentFailed,
    ExtractionProgressed,
    ExtractionStarted,
    FailedData,
    ProgressData,
)
from shared.reasons import ReasonCode

Event = Any


def _history(doc: str, generation: int, steps: list[str], pages: int) -> list[Event]:
    common = {"source": "/t", "subject": doc, "owner": "alice", "generation": generation}
    events: list[Event] = [
        DocumentAccepted(**common, data=AcceptedData(filename=f"{doc}.pdf", size=1, sha256="s"))
    ]
    for step in steps:
        if step == "started":
            events.append(ExtractionStarted(**common))
        elif step == "progress":
            done = min(pages, sum(1 for e in events if e.type == "extraction.progressed") + 1)
            data = ProgressData(stage="extraction", done=done, total=pages)
            events.append(ExtractionProgressed(**common, data=data))
        elif step == "analysis":
            events.append(AnalysisStarted(**common))
    end = steps[-1] if steps else "completed"
    if end == "failed":
        data = FailedData(stage="extraction", reason=ReasonCode.CORRUPT, message="broken")
        events.append(DocumentFailed(**common, data=data))
    elif end == "cancelled":
        events.append(DocumentCancelled(**common))
    else:
        events.append(DocumentCompleted(**common))
    return events


steps = st.lists(
    st.sampled_from(["started", "progress", "analysis", "failed", "cancelled"]), max_size=8
)
histories = st.tuples(steps, st.integers(min_value=1, max_value=50))


def _fold_all(delivered: list[tuple[Event, int]]) -> dict[str, Any]:
    docs: dict[str, Any] = {}
    for event, offset in delivered:
        before = docs.get(event.subject)
        after = fold(before, event, Position(0, offset))
        if after is not None:
            docs[event.subject] = after
    return docs


def _positioned(events: list[Event]) -> list[tuple[Event, int]]:
    return list(zip(events, range(len(events)), strict=True))


@settings(max_examples=150, deadline=None)
@given(
    history=histories,
    replays=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=4),
)
def test_replays_after_a_crash_change_nothing(
    history: tuple[list[str], int], replays: list[tuple[int, int]]
) -> None:
    ordered = _positioned(_history("d1", 1, *history))
    delivered: list[tuple[Event, int]] = []
    position = 0
    for run, rewind in replays:
        # The consumer takes `run` records, crashes, and resumes `rewind` records earlier
        # (its last commit): those are delivered again.
        delivered += ordered[position : position + run]
        position = max(0, min(position + run, len(ordered)) - rewind)
    delivered += ordered[position:]
    assert _fold_all(delivered) == _fold_all(ordered)


@settings(max_examples=150, deadline=None)
@given(first=histories, second=histories, order=st.lists(st.booleans(), max_size=40))
def test_documents_interleaved_in_any_order_fold_alike(
    first: tuple[list[str], int], second: tuple[list[str], int], order: list[bool]
) -> None:
    a = _history("doc-a", 1, *first)
    b = _history("doc-b", 1, *second)
    merged: list[Event] = []
    ia = ib = 0
    for take_a in order + [True] * len(a) + [False] * len(b):
        if take_a and ia < len(a):
            merged.append(a[ia])
            ia += 1
        elif not take_a and ib < len(b):
            merged.append(b[ib])
            ib += 1
    separately = {**_fold_all(_positioned(a)), **_fold_all(_positioned(b))}
    together = _fold_all(_positioned(merged))
    for doc in ("doc-a", "doc-b"):
        mine = {k: v for k, v in together[doc].items() if k not in ("position", "_log")}
        alone = {k: v for k, v in separately[doc].items() if k not in ("position", "_log")}
        assert mine == alone
        assert [e["type"] for e in together[doc]["_log"]] == [
            e["type"] for e in separately[doc]["_log"]
        ]


@settings(max_examples=150, deadline=None)
@given(
    old=histories,
    new=histories,
    cut=st.integers(0, 60),
    late=st.lists(st.integers(0, 60), max_size=6),
)
def test_late_events_of_a_replaced_generation_are_ignored(
    old: tuple[list[str], int], new: tuple[list[str], int], cut: int, late: list[int]
) -> None:
    first = _history("d1", 1, *old)
    second = _history("d1", 2, *new)
    cut = min(cut, len(first))
    # Generation 1 was under way when the reprocess began; some of its events arrive later.
    stale = [first[i % len(first)] for i in late]
    plain = first[:cut] + second
    with_stale = first[:cut] + second[:1] + stale + second[1:]
    folded = _fold_all(_positioned(with_stale))["d1"]
    expected = _fold_all(_positioned(plain))["d1"]
    assert folded["generation"] == 2
    assert folded["status"] == expected["status"]
    assert folded.get("error") == expected.get("error")
    assert folded.get("progress") == expected.get("progress")
    assert [e["type"] for e in folded["_log"]] == [e["type"] for e in expected["_log"]]
