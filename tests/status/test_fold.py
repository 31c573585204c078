"""The status fold: idempotent under redelivery, monotonic, generation-aware, terminal-sticky."""

from __future__ import annotations

from typing import Any

from services.status.fold import Position, fold
from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentCompleted,
    DocumentFailed,
    Envelope,
    ExtractionProgressed,
    ExtractionStarted,
    FailedData,
    ProgressData,
)
from shared.reasons import ReasonCode

DOC = "d" * 32


def _ev(cls: type[Envelope], generation: int = 1, **kw: Any) -> Any:
    return cls(source="/t", subject=DOC, owner="alice", generation=generation, **kw)


def _progress(done: int, generation: int = 1) -> Any:
    return _ev(
        ExtractionProgressed, generation, data=ProgressData(stage="extraction", done=done, total=10)
    )


def _run(events: list[tuple[Any, int]]) -> dict[str, Any] | None:
    doc = None
    for event, offset in events:
        doc = fold(doc, event, Position(0, offset)) or doc
    return doc


def test_lifecycle_fold() -> None:
    doc = _run(
        [
            (_ev(DocumentAccepted, data=AcceptedData(filename="f", size=1, sha256="s")), 0),
            (_ev(ExtractionStarted), 1),
            (_progress(3), 2),
            (_ev(DocumentCompleted), 3),
        ]
    )
    assert doc is not None
    assert doc["status"] == "completed"
    assert doc["filename"] == "f"
    assert doc["progress"]["done"] == 3
    assert doc["position"] == {"partition": 0, "offset": 3}


def test_redelivery_changes_nothing() -> None:
    accepted = _ev(DocumentAccepted, data=AcceptedData(filename="f", size=1, sha256="s"))
    doc = _run([(accepted, 0), (_ev(ExtractionStarted), 1)])
    assert fold(doc, accepted, Position(0, 0)) is None
    assert fold(doc, _ev(ExtractionStarted), Position(0, 1)) is None


def test_progress_never_goes_back() -> None:
    doc = _run([(_progress(5), 1), (_progress(2), 2)])
    assert doc is not None and doc["progress"]["done"] == 5


def test_terminal_state_sticks_within_a_generation() -> None:
    failed = _ev(
        DocumentFailed, data=FailedData(stage="extraction", reason=ReasonCode.CORRUPT, message="m")
    )
    doc = _run([(failed, 1), (_ev(DocumentCompleted), 2), (_progress(9), 3)])
    assert doc is not None
    assert doc["status"] == "failed"
    assert doc["error"]["reason"] == "corrupt"
    assert doc["position"]["offset"] == 3


def test_new_generation_starts_afresh_and_old_ones_are_ignored() -> None:
    failed = _ev(
        DocumentFailed, data=FailedData(stage="analysis", reason=ReasonCode.TIMEOUT, message="m")
    )
    doc = _run([(failed, 1), (_ev(ExtractionStarted, generation=2), 2)])
    assert doc is not None
    assert doc["generation"] == 2 and doc["status"] == "extracting" and "error" not in doc
    assert fold(doc, _ev(DocumentCompleted, generation=1), Position(0, 3)) is None


def test_fold_leaves_the_document_it_was_given_unchanged() -> None:
    """The fold copies shallowly: the document it was given (the store's cached version, the
    one a lost write folds again from) must come out exactly as it went in, nested values
    included, through every kind of change (a new generation, a tombstone)."""
    from copy import deepcopy

    from benchmarks.bench_read_model import lifecycle
    from shared.events import DocumentDeleted, DocumentRedriven, RedrivenData

    events = [
        *lifecycle(DOC, "alice"),
        _ev(
            DocumentRedriven,
            data=RedrivenData(stage="extraction", attempt=2, stalled_s=1.0, status="extracting"),
        ),
        _ev(DocumentAccepted, 2, data=AcceptedData(filename="g", size=2, sha256="t")),
        _progress(3, 2),
        _ev(
            DocumentFailed,
            2,
            data=FailedData(stage="extraction", reason=ReasonCode.TIMEOUT, message="m"),
        ),
        _ev(DocumentDeleted, 2),
    ]
    doc = None
    for offset, event in enumerate(events):
        snapshot = deepcopy(doc)
        new = fold(doc, event, Position(0, offset))
        assert doc == snapshot, event.type
        assert new is not doc
        doc = new or doc
    assert doc is not None and doc["deleted"] is True
