"""The stalled-document watchdog on the real FerretDB: what it re-drives, what it fails, and
what it leaves alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.status.settings import StatusSettings
from services.status.watchdog import Watchdog
from shared.events import DocumentExtracted, DocumentFailed, DocumentRedriven, DocumentUploaded
from shared.reasons import ReasonCode
from tests.shared.test_stage import RecordingProducer

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = StatusSettings(
    auth_secret="x" * 32,
    topic_prefix="w.",
    stall_queued_s=60,
    stall_extraction_s=30,
    stall_analysis_s=45,
    max_redrives=2,
)


@pytest.fixture
def db(scratch_db: Any) -> Any:
    return scratch_db


def _doc(doc_id: str, status: str, idle_s: float, *, partition: int = 0, **extra: Any) -> Any:
    return {
        "_id": doc_id,
        "owner": "alice",
        "generation": 1,
        "status": status,
        "filename": f"{doc_id}.pdf",
        "size": 10,
        "sha256": "s",
        "options": {"analyze": True, "language_hint": "fr"},
        "position": {"partition": partition, "offset": 3},
        "updated_at": NOW - timedelta(seconds=idle_s),
        **extra,
    }


EXTRACTION = {
    "extraction": {
        "detected_type": "pdf",
        "extractor": "pdfium",
        "pages": 1,
        "chars": 5,
        "words": 1,
        "took_ms": 1,
    },
    "text_blob": {"key": "documents/an/analyzing/text-g1.txt", "size": 5},
}


async def _store(db: Any, docs: list[Any]) -> None:
    """As the status service leaves them: the documents, and a marker for each in flight."""
    await db.documents.insert_many(docs)
    markers = [
        {
            "_id": d["_id"],
            "partition": d["position"]["partition"],
            "status": d["status"],
            "updated_at": d["updated_at"],
        }
        for d in docs
        if d["status"] not in ("completed", "failed", "cancelled")
    ]
    await db.inflight.insert_many(markers)


async def test_stalled_documents_are_redriven_then_failed(db: Any) -> None:
    await _store(
        db,
        [
            _doc("queued-long", "queued", 61),
            _doc("queued-short", "queued", 59),  # within its (longer) deadline
            _doc("extracting", "extracting", 31),
            _doc("analyzing", "analyzing", 46, **EXTRACTION),
            _doc("given-up", "extracting", 31, redrives=2),
            _doc("encrypted", "extracting", 31, password_given=True),
            _doc("done", "completed", 999),
            _doc("elsewhere", "extracting", 999, partition=1),  # another replica's partition
        ],
    )
    # A marker a crash left behind after its document finished: removed, nothing sent.
    await db.inflight.insert_one(
        {
            "_id": "done",
            "partition": 0,
            "status": "extracting",
            "updated_at": NOW - timedelta(hours=1),
        }
    )
    producer = RecordingProducer()
    watchdog = Watchdog(SETTINGS, producer, lambda: db, now=lambda: NOW)  # type: ignore[arg-type]
    acted = await watchdog.sweep({0: 0})
    assert acted == 5
    by_doc: dict[str, list[tuple[str, Any]]] = {}
    for topic, event in producer.sent:
        by_doc.setdefault(event.subject, []).append((topic, event))

    for doc_id in ("queued-long", "extracting"):
        (t1, redriven), (t2, work) = by_doc[doc_id]
        assert (t1, t2) == ("w.documents.events", "w.documents.uploaded")
        assert isinstance(redriven, DocumentRedriven)
        assert redriven.data.attempt == 2
        assert isinstance(work, DocumentUploaded)
        assert work.data.options.language_hint == "fr"  # the upload's options, kept
        assert work.generation == 1

    (_, redriven), (topic, work) = by_doc["analyzing"]
    assert topic == "w.documents.extracted"
    assert isinstance(work, DocumentExtracted)
    assert work.data.text_blob is not None
    assert redriven.data.stage == "analysis"  # type: ignore[attr-defined]

    for doc_id in ("given-up", "encrypted"):
        [(topic, failed)] = by_doc[doc_id]
        assert isinstance(failed, DocumentFailed)
        assert failed.data.reason == ReasonCode.STALLED

    assert not {"queued-short", "done", "elsewhere"} & set(by_doc)
    assert await db.inflight.find_one({"_id": "done"}) is None


async def test_no_sweep_while_the_fold_trails_its_log(db: Any) -> None:
    await _store(db, [_doc("stuck", "extracting", 999)])
    producer = RecordingProducer()
    watchdog = Watchdog(SETTINGS, producer, lambda: db, now=lambda: NOW)  # type: ignore[arg-type]
    assert await watchdog.sweep({0: SETTINGS.watchdog_max_lag + 1}) == 0
    assert await watchdog.sweep({0: None}) == 0
    assert producer.sent == []
    assert await watchdog.sweep({0: 0}) == 1
