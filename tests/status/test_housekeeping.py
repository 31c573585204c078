"""Retention on the real FerretDB: old logs and failed documents' files go, once; the rest stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.status.housekeeping import Housekeeping, record_finished
from services.status.settings import StatusSettings
from shared.blobs import LocalBlobStore, document_blob_key

TODAY = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
def db(scratch_db: Any) -> Any:
    return scratch_db


async def _finished(
    db: Any, blobs: LocalBlobStore, doc_id: str, status: str, days_ago: int
) -> None:
    doc = {
        "_id": doc_id,
        "owner": "alice",
        "status": status,
        "generation": 1,
        "position": {"partition": 0, "offset": 1},
        "_log": [{"type": "document.accepted"}],
    }
    await db.documents.insert_one(doc)
    await blobs.write_bytes(document_blob_key(doc_id, "original"), b"bytes")
    await record_finished(db, doc, TODAY - timedelta(days=days_ago))
    await record_finished(db, doc, TODAY - timedelta(days=days_ago))  # a replay adds nothing


async def test_retention_drops_old_logs_and_failed_files_once(db: Any, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    await _finished(db, blobs, "old-failed", "failed", 40)
    await _finished(db, blobs, "old-done", "completed", 40)
    await _finished(db, blobs, "recent-failed", "failed", 3)
    settings = StatusSettings(auth_secret="x" * 32, retain_logs_days=30, retain_failed_files_days=7)
    changed: list[str] = []
    house = Housekeeping(settings, blobs, lambda: db, changed=changed.append, today=TODAY.date)
    assert await house.sweep({0}) == 3  # two logs, one failed document's files
    docs = {d["_id"]: d async for d in db.documents.find({})}
    assert "_log" not in docs["old-failed"] and "_log" not in docs["old-done"]
    assert docs["recent-failed"]["_log"]
    assert not await blobs.exists(document_blob_key("old-failed", "original"))
    assert await blobs.exists(document_blob_key("old-done", "original"))  # completed: kept
    assert await blobs.exists(document_blob_key("recent-failed", "original"))  # too recent
    assert sorted(changed) == ["old-done", "old-failed"]
    assert await house.sweep({0}) == 0  # the cursor moved on: nothing twice


async def test_an_hours_finished_documents_fill_small_buckets_and_are_all_swept(
    db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finish rewrites one bucket of at most BUCKET_IDS ids, never the whole hour's list;
    a replay records nothing twice; the sweep reads every bucket of the hour, and the hour's
    single bucket an earlier version wrote."""
    from services.status import housekeeping
    from services.status.housekeeping import FINISHED, FinishedLog, hour_id

    monkeypatch.setattr(housekeeping, "BUCKET_IDS", 3)
    blobs = LocalBlobStore(tmp_path)
    when = TODAY - timedelta(days=40)
    ids = [f"doc-{n}" for n in range(8)]
    log = FinishedLog()
    for document_id in ids:
        doc = {
            "_id": document_id,
            "owner": "alice",
            "status": "completed",
            "generation": 1,
            "position": {"partition": 0, "offset": 1},
            "_log": [{"type": "document.accepted"}],
        }
        await db.documents.insert_one(doc)
        await log.record(db, doc, when)
    replayed = FinishedLog()  # a restarted replica, folding the last few again
    for document_id in ids[-4:]:
        found = await db.documents.find_one({"_id": document_id})
        await replayed.record(db, found, when)
    buckets = {b["_id"]: b["ids"] async for b in db[FINISHED].find({"ids": {"$exists": True}})}
    hour = hour_id(0, when)
    assert buckets == {
        f"{hour}|0000": ids[0:3],
        f"{hour}|0001": ids[3:6],
        f"{hour}|0002": ids[6:8],
    }
    # An earlier version's single bucket for the hour is swept too.
    await db.documents.insert_one(
        {"_id": "legacy", "owner": "alice", "status": "completed", "_log": [{"type": "x"}]}
    )
    await db[FINISHED].insert_one({"_id": hour, "partition": 0, "ids": ["legacy"]})
    settings = StatusSettings(
        auth_secret="x" * 32, retain_logs_days=30, retain_failed_files_days=None
    )
    house = Housekeeping(settings, blobs, lambda: db, today=TODAY.date)
    assert await house.sweep({0}) == len(ids) + 1
    assert [d async for d in db.documents.find({"_log": {"$exists": True}})] == []
