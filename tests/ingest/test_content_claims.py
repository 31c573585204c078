"""The first copy of some bytes is claimed before it is published, on the session's FerretDB.

Before the claim, ``duplicates=reject`` read the content pointer, published, and only then
wrote the pointer: concurrent copies all found none, all got 202 and all were processed.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.datastructures import State

from services.ingest.admissions import Admissions
from services.ingest.publishing import unavailable
from services.ingest.upload import ReceivedFile
from services.ingest.uploads import Policy, _accept_one, _Request
from shared.blobs import LocalBlobStore, document_blob_key
from shared.events import Envelope, UploadOptions
from shared.ids import new_document_id
from shared.readmodel import ADMISSIONS, ReadModel, content_pointer_id
from shared.topics import Topics

DATA = b"Claimed once.\n\nWhatever the number of copies sent at the same time.\n"
SHA = hashlib.sha256(DATA).hexdigest()
#: Set on a pointer while its upload is publishing (services/ingest/admissions.py).
PENDING = "pending"


class Publisher:
    """Publishes after ``delay_s`` (so concurrent uploads overlap), or fails with a 503."""

    def __init__(self, *, delay_s: float = 0.0, fail: bool = False) -> None:
        self.delay_s = delay_s
        self.fail = fail
        self.published: list[str] = []

    async def publish(
        self, records: Sequence[tuple[str, Envelope]], *, blob_key: str | None = None
    ) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise unavailable()
        self.published.append(records[0][1].subject)


def _state(db: Any, tmp_path: Path, publisher: Publisher) -> State:
    state = State()
    state.blobs = LocalBlobStore(tmp_path)
    state.admissions = Admissions(db, key_ttl_s=3600, wait_s=0)
    state.read_model = ReadModel(db, partitions=1)
    state.publisher = publisher
    state.settings = SimpleNamespace(
        topics=Topics("t."), publish_timeout_s=1.0, public_ws_url="ws://gateway"
    )
    return state


async def _upload(state: State, policy: Policy, owner: str = "alice") -> tuple[str, Any]:
    document_id = new_document_id()
    received = ReceivedFile(
        index=0,
        key=document_blob_key(document_id, "original"),
        filename="copy.txt",
        content_type="text/plain",
        blob=await state.blobs.write_bytes(document_blob_key(document_id, "original"), DATA),
        head=DATA,
    )
    context = _Request(state=state, owner=owner, options=UploadOptions(), policy=policy)
    answer = await _accept_one(context, received, document_id, queue_down=False)
    return document_id, answer


async def _pointer(db: Any, owner: str = "alice") -> dict[str, Any] | None:
    found: dict[str, Any] | None = await db[ADMISSIONS].find_one(
        {"_id": content_pointer_id(owner, SHA)}
    )
    return found


async def test_concurrent_copies_under_reject_are_processed_once(
    scratch_db: Any, tmp_path: Path
) -> None:
    publisher = Publisher(delay_s=0.2)
    state = _state(scratch_db, tmp_path, publisher)
    results = await asyncio.gather(*(_upload(state, "reject") for _ in range(6)))
    accepted = [document_id for document_id, answer in results if answer.status == 202]
    assert len(accepted) == 1, [answer.status for _, answer in results]
    assert publisher.published == accepted
    for _, answer in results:
        if answer.status != 202:
            assert answer.status == 409
            assert answer.body["reason"] == "duplicate"
            assert answer.body["duplicate_of"] == accepted[0]
    pointer = await _pointer(scratch_db)
    assert pointer is not None
    assert pointer["document_id"] == accepted[0]
    assert PENDING not in pointer  # published: final


async def test_concurrent_copies_under_link_are_all_processed(
    scratch_db: Any, tmp_path: Path
) -> None:
    """The README: a copy of a document still in flight is processed (nothing to link to)."""
    publisher = Publisher(delay_s=0.2)
    state = _state(scratch_db, tmp_path, publisher)
    results = await asyncio.gather(*(_upload(state, "link") for _ in range(3)))
    assert [answer.status for _, answer in results] == [202, 202, 202]
    assert sorted(publisher.published) == sorted(d for d, _ in results)
    assert all("duplicate_of" not in answer.body for _, answer in results)
    pointer = await _pointer(scratch_db)
    assert pointer is not None and pointer["document_id"] in publisher.published


async def test_a_claim_whose_publish_fails_is_released(scratch_db: Any, tmp_path: Path) -> None:
    state = _state(scratch_db, tmp_path, Publisher(fail=True))
    _, failed = await _upload(state, "reject")
    assert failed.status == 503
    assert await _pointer(scratch_db) is None  # no pointer to a document never queued

    state.publisher = publisher = Publisher()
    second, answer = await _upload(state, "reject")
    assert answer.status == 202  # the next copy is the first
    assert publisher.published == [second]
    pointer = await _pointer(scratch_db)
    assert pointer is not None and pointer["document_id"] == second


async def test_a_reject_copy_waits_for_a_pending_claim_that_then_fails(
    scratch_db: Any, tmp_path: Path
) -> None:
    """A copy is refused as a duplicate only of a document that was queued: while the first
    is publishing it waits, and when that publish fails it is the first itself."""
    state = _state(scratch_db, tmp_path, Publisher(delay_s=0.3, fail=True))
    first = asyncio.create_task(_upload(state, "reject"))
    await asyncio.sleep(0.1)  # the first holds its claim, pending
    pending = await _pointer(scratch_db)
    assert pending is not None and pending[PENDING] is True
    state.publisher = publisher = Publisher()
    second, answer = await _upload(state, "reject")
    assert (await first)[1].status == 503
    assert answer.status == 202
    assert publisher.published == [second]


async def test_a_stale_pending_claim_is_taken_over(scratch_db: Any, tmp_path: Path) -> None:
    """An ingest that died between its claim and its publish leaves a pending pointer to a
    document that never existed: once older than any publish, the next copy replaces it."""
    await scratch_db[ADMISSIONS].insert_one(
        {
            "_id": content_pointer_id("alice", SHA),
            "document_id": new_document_id(),
            "created_at": datetime.now(UTC) - timedelta(minutes=5),
            PENDING: True,
        }
    )
    publisher = Publisher()
    state = _state(scratch_db, tmp_path, publisher)
    document_id, answer = await _upload(state, "reject")
    assert answer.status == 202
    pointer = await _pointer(scratch_db)
    assert pointer is not None and pointer["document_id"] == document_id


@pytest.mark.parametrize("policy", ["reject", "link"])
async def test_a_deleted_first_copy_is_replaced(
    scratch_db: Any, tmp_path: Path, policy: Policy
) -> None:
    state = _state(scratch_db, tmp_path, Publisher())
    first, _ = await _upload(state, policy)
    await scratch_db["documents"].insert_one(
        {"_id": first, "owner": "alice", "status": "completed", "deleted": True}
    )
    second, answer = await _upload(state, policy)
    assert answer.status == 202 and "duplicate_of" not in answer.body
    pointer = await _pointer(scratch_db)
    assert pointer is not None and pointer["document_id"] == second


async def test_an_error_is_not_a_claim(scratch_db: Any, tmp_path: Path) -> None:
    """Refused before the claim (here: a type the extractor cannot read): no pointer."""
    state = _state(scratch_db, tmp_path, Publisher())
    document_id = new_document_id()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    key = document_blob_key(document_id, "original")
    received = ReceivedFile(
        index=0,
        key=key,
        filename="pic.png",
        content_type="image/png",
        blob=await state.blobs.write_bytes(key, png),
        head=png,
    )
    context = _Request(state=state, owner="alice", options=UploadOptions(), policy="reject")
    answer = await _accept_one(context, received, document_id, queue_down=False)
    assert answer.status == 415
    assert await scratch_db[ADMISSIONS].count_documents({}) == 0
