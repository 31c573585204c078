"""A lookup of a new document waits briefly for the status service's fold (shared/readmodel.py:
get_folded): right after its 202 a document used to be 404 for ~0.3 s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared.ids import created_at_s, new_document_id
from shared.readmodel import Doc, get_folded


class Folding:
    """The read model, which has the document after ``after_s`` (never: None)."""

    def __init__(self, after_s: float | None) -> None:
        self.ready_at = None if after_s is None else time.monotonic() + after_s
        self.reads = 0

    async def get(self, document_id: str) -> Doc | None:
        self.reads += 1
        if self.ready_at is not None and time.monotonic() >= self.ready_at:
            return {"_id": document_id}
        return None


def _id_made(seconds_ago: float) -> str:
    stamp = int((time.time() - seconds_ago) * 1000)
    return f"{stamp:012x}{new_document_id()[12:]}"


async def _timed(folding: Folding, document_id: str, **kwargs: Any) -> tuple[Doc | None, float]:
    started = time.monotonic()
    found = await get_folded(folding.get, document_id, **kwargs)
    return found, time.monotonic() - started


def test_an_id_tells_when_it_was_made() -> None:
    assert abs(created_at_s(new_document_id()) - time.time()) < 1


async def test_a_new_document_is_waited_for_until_it_is_folded() -> None:
    document_id = new_document_id()
    found, took = await _timed(Folding(after_s=0.3), document_id)
    assert found == {"_id": document_id}
    assert 0.25 < took < 1.0


async def test_a_document_that_is_there_is_read_once() -> None:
    folding = Folding(after_s=0)
    found, _ = await _timed(folding, new_document_id())
    assert found is not None and folding.reads == 1


async def test_a_new_id_that_never_comes_is_not_found_after_the_wait() -> None:
    folding = Folding(after_s=None)
    found, took = await _timed(folding, new_document_id(), wait_s=0.5)
    assert found is None
    assert 0.45 < took < 0.8
    assert folding.reads < 10  # a backoff, not a busy loop


async def test_old_future_and_malformed_ids_answer_at_once() -> None:
    for document_id in (_id_made(3600), _id_made(-3600), "not-an-id", "0" * 32, "f" * 32):
        folding = Folding(after_s=None)
        found, took = await _timed(folding, document_id)
        assert found is None and took < 0.05 and folding.reads == 1, document_id


async def test_a_slow_upload_id_and_some_clock_skew_still_wait() -> None:
    """The id is made when the file's bytes start arriving: a 30 s upload's id is 30 s old
    at its 202. Another host's clock may be a little ahead."""
    for document_id in (_id_made(30), _id_made(-2)):
        found, _ = await _timed(Folding(after_s=0.1), document_id)
        assert found is not None


async def test_waits_do_not_block_each_other() -> None:
    started = time.monotonic()
    found = await asyncio.gather(
        *(get_folded(Folding(after_s=0.2).get, new_document_id()) for _ in range(20))
    )
    assert all(f is not None for f in found)
    assert time.monotonic() - started < 1.0
