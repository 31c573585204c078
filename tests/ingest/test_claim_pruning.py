"""Expired Idempotency-Key claims are removed (ingest's ClaimPruner), on the session's FerretDB.

Before the pruner, a claim was only ever ignored once expired: the admissions collection kept
one document per idempotent request for ever.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.admissions import LEGACY_DONE, Admissions, Answer, ClaimPruner, idem_id
from shared.readmodel import ADMISSIONS, content_pointer_id

A_DAY = 24 * 3600.0


def _admissions(db: Any, ttl_s: float) -> Admissions:
    return Admissions(db, key_ttl_s=ttl_s, wait_s=0)


async def _ids(db: Any) -> set[str]:
    return {doc["_id"] async for doc in db[ADMISSIONS].find({}, {"_id": 1})}


async def test_expired_claims_go_and_fresh_claims_and_content_pointers_stay(
    scratch_db: Any,
) -> None:
    short, long = _admissions(scratch_db, 0.001), _admissions(scratch_db, A_DAY)
    for n in range(5):
        assert await short.claim("alice", f"old-{n}", "print") is None
    await short.answer("alice", "old-0", Answer(202, {"id": "d1"}, {}), "print")
    assert await long.claim("alice", "fresh", "print") is None
    await long.remember("alice", "ab" * 32, "d1")
    now = datetime.now(UTC) + timedelta(seconds=1)

    pruner = ClaimPruner(scratch_db, key_ttl_s=A_DAY, batch=2, clock=lambda: now)
    assert await pruner.run() == 5  # in batches of 2: 2, 2, 1

    kept = await _ids(scratch_db)
    assert idem_id("alice", "fresh") in kept
    assert content_pointer_id("alice", "ab" * 32) in kept
    assert not any(_id.startswith(idem_id("alice", "old-")) for _id in kept)
    # What the pruner finds by is indexed (on MongoDB the query uses it).
    indexes = await scratch_db[ADMISSIONS].index_information()
    assert any(spec["key"] == [("expires_at", 1)] for spec in indexes.values())


async def test_one_replica_runs_an_hour_and_the_next_hour_runs_again(scratch_db: Any) -> None:
    short = _admissions(scratch_db, 0.001)
    assert await short.claim("bob", "k1", "print") is None
    now = datetime.now(UTC) + timedelta(seconds=1)
    first = ClaimPruner(scratch_db, key_ttl_s=A_DAY, clock=lambda: now)
    second = ClaimPruner(scratch_db, key_ttl_s=A_DAY)
    second.clock = lambda: now
    assert await first.run() == 1

    assert await short.claim("bob", "k2", "print") is None
    assert await second.run() == 0  # this hour's slot is taken: another replica ran it
    assert idem_id("bob", "k2") in await _ids(scratch_db)

    later = now + timedelta(hours=1)
    second.clock = lambda: later
    assert await second.run() == 1
    assert idem_id("bob", "k2") not in await _ids(scratch_db)


async def test_slots_expire_like_claims(scratch_db: Any) -> None:
    now = datetime.now(UTC)
    pruner = ClaimPruner(scratch_db, key_ttl_s=A_DAY, clock=lambda: now)
    await pruner.run()
    slots = {_id for _id in await _ids(scratch_db) if _id.startswith("prune|")}
    assert slots == {f"prune|{now:%Y-%m-%dT%H}", LEGACY_DONE}

    two_days_on = now + timedelta(days=2)
    pruner.clock = lambda: two_days_on
    await pruner.run()
    assert {_id for _id in await _ids(scratch_db) if _id.startswith("prune|")} == {
        f"prune|{two_days_on:%Y-%m-%dT%H}",
        LEGACY_DONE,
    }


async def test_an_answer_is_kept_even_when_its_claim_vanished_meanwhile(scratch_db: Any) -> None:
    """The pruner finds expired ids, then deletes them by id: a claim that expired and was
    made again in between is deleted with them. Its holder's answer must still be stored, or
    a retry would do the work again."""
    admissions = _admissions(scratch_db, A_DAY)
    assert await admissions.claim("carol", "k", "print") is None
    await scratch_db[ADMISSIONS].delete_one({"_id": idem_id("carol", "k")})  # the pruner

    await admissions.answer("carol", "k", Answer(202, {"id": "d9"}, {"Location": "/x"}), "print")

    replay = await admissions.claim("carol", "k", "print")
    assert replay == Answer(202, {"id": "d9"}, {"Location": "/x"})
    stored = await scratch_db[ADMISSIONS].find_one({"_id": idem_id("carol", "k")})
    assert stored["expires_at"] > datetime.now(UTC) + timedelta(hours=23)


async def test_a_claim_past_its_expiry_is_taken_as_new(scratch_db: Any) -> None:
    short = _admissions(scratch_db, 0.001)
    assert await short.claim("dave", "k", "print") is None
    await short.answer("dave", "k", Answer(202, {"id": "d1"}, {}), "print")
    await asyncio.sleep(0.01)  # past the key's 1 ms
    # Another request with the same key, after the key expired: it is new, even for another
    # fingerprint (the old request is forgotten).
    assert await short.claim("dave", "k", "other print") is None


async def test_claims_written_before_expires_at_go_by_age_until_none_is_left(
    scratch_db: Any,
) -> None:
    """Earlier versions wrote claims without ``expires_at``: they go once older than the key
    lifetime. The (unindexed) search for them stops once none was found twice, a key lifetime
    apart: replicas of the old version may write some until they are all replaced."""
    now = datetime.now(UTC)
    admissions = scratch_db[ADMISSIONS]

    async def legacy_claim(name: str, age: timedelta) -> None:
        await admissions.insert_one(
            {"_id": idem_id("erin", name), "fingerprint": "p", "created_at": now - age}
        )

    async def marker() -> dict[str, Any] | None:
        found: dict[str, Any] | None = await admissions.find_one({"_id": LEGACY_DONE})
        return found

    await legacy_claim("old", timedelta(days=2))
    await legacy_claim("young", timedelta(hours=1))

    def pruner_at(when: datetime) -> ClaimPruner:
        return ClaimPruner(scratch_db, key_ttl_s=A_DAY, clock=lambda: when)

    assert await pruner_at(now).run() == 1
    kept = await _ids(scratch_db)
    assert idem_id("erin", "old") not in kept
    assert idem_id("erin", "young") in kept
    assert await marker() is None  # one is left: the next run looks again

    assert await pruner_at(now + timedelta(days=1)).run() == 1  # "young" has aged
    first_clean = await marker()
    assert first_clean is not None and not first_clean.get("done")

    # An old-version replica still running writes another: the wait starts again.
    await legacy_claim("late", -timedelta(days=1))  # written a day on, just before this run
    await pruner_at(now + timedelta(days=1, hours=1)).run()
    assert await marker() is None

    await pruner_at(now + timedelta(days=2, hours=2)).run()  # "late" aged and removed
    clean_again = await marker()
    assert clean_again is not None and not clean_again.get("done")
    await pruner_at(now + timedelta(days=3, hours=3)).run()
    done = await marker()
    assert done is not None and done.get("done") is True


async def test_an_expired_claim_is_forgotten_only_as_it_was_read(scratch_db: Any) -> None:
    """Two retries find the same expired claim; the first removes it and claims the key
    anew. The second's removal must leave that new claim, or both requests would run."""
    short, long = _admissions(scratch_db, 0.001), _admissions(scratch_db, A_DAY)
    assert await short.claim("frank", "k", "print") is None
    await asyncio.sleep(0.01)
    seen_by_both = await scratch_db[ADMISSIONS].find_one({"_id": idem_id("frank", "k")})

    await long.forget_expired(seen_by_both)  # the first retry
    assert await long.claim("frank", "k", "print") is None  # ... holds the key now
    await long.forget_expired(seen_by_both)  # the second retry, a moment late

    stored = await scratch_db[ADMISSIONS].find_one({"_id": idem_id("frank", "k")})
    assert stored is not None
    assert stored["created_at"] > seen_by_both["created_at"]
