"""The record of delivery attempts on the session's FerretDB (services/webhooks/attempts.py,
shared/webhooks.py): a busy day is split into bounded buckets and read back newest first, a
restarted writer goes on in the open bucket, a bucket of the earlier one-per-day layout is
read and passed, and days past the retention are removed, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.webhooks.attempts import AttemptLog, AttemptPruner
from shared.webhooks import (
    CATCH_UP_DAYS,
    WEBHOOK_ATTEMPTS,
    WEBHOOKS,
    attempts_id,
    hooks_id,
    newest_attempts,
)

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(scratch_db: Any) -> Any:
    return scratch_db


def _attempt(number: int) -> dict[str, Any]:
    return {"webhook_id": "msg_1", "attempt": number, "outcome": "retrying"}


async def _stored(db: Any) -> dict[str, list[int]]:
    return {
        d["_id"]: [a["attempt"] for a in d["attempts"]] async for d in db[WEBHOOK_ATTEMPTS].find({})
    }


async def test_a_busy_day_is_split_into_bounded_buckets_read_newest_first(db: Any) -> None:
    log = AttemptLog(lambda: db, per_bucket=3)
    for number in range(1, 8):
        await log.record("wh_a", AT, _attempt(number))
    assert await _stored(db) == {
        attempts_id("wh_a", DAY): [1, 2, 3],
        attempts_id("wh_a", DAY, 1): [4, 5, 6],
        attempts_id("wh_a", DAY, 2): [7],
    }
    collection = db[WEBHOOK_ATTEMPTS]
    newest = await newest_attempts(collection, "wh_a", [DAY], 5, per_bucket=3)
    assert [a["attempt"] for a in newest] == [7, 6, 5, 4, 3]
    days = [DAY + timedelta(days=1), DAY, DAY - timedelta(days=1)]  # newest first, two empty
    every = await newest_attempts(collection, "wh_a", days, 100, per_bucket=3)
    assert [a["attempt"] for a in every] == [7, 6, 5, 4, 3, 2, 1]


async def test_a_restarted_writer_goes_on_in_the_open_bucket(db: Any) -> None:
    first = AttemptLog(lambda: db, per_bucket=3)
    for number in range(1, 6):
        await first.record("wh_b", AT, _attempt(number))
    again = AttemptLog(lambda: db, per_bucket=3)  # a fresh process: nothing remembered
    await again.record("wh_b", AT, _attempt(6))
    await again.record("wh_b", AT, _attempt(7))
    assert await _stored(db) == {
        attempts_id("wh_b", DAY): [1, 2, 3],
        attempts_id("wh_b", DAY, 1): [4, 5, 6],
        attempts_id("wh_b", DAY, 2): [7],
    }


async def test_a_bucket_of_the_one_per_day_layout_is_read_and_passed(db: Any) -> None:
    # As the earlier version wrote it: the day's only document, no count.
    old = {"_id": attempts_id("wh_c", DAY), "attempts": [_attempt(1), _attempt(2)]}
    await db[WEBHOOK_ATTEMPTS].insert_one(old)
    collection = db[WEBHOOK_ATTEMPTS]
    only_old = await newest_attempts(collection, "wh_c", [DAY], 10, per_bucket=3)
    assert [a["attempt"] for a in only_old] == [2, 1]
    await AttemptLog(lambda: db, per_bucket=3).record("wh_c", AT, _attempt(3))
    assert (await _stored(db))[attempts_id("wh_c", DAY, 1)] == [3]
    both = await newest_attempts(collection, "wh_c", [DAY], 10, per_bucket=3)
    assert [a["attempt"] for a in both] == [3, 2, 1]


async def test_days_past_the_retention_are_removed_once(db: Any) -> None:
    today = date(2026, 11, 27)
    endpoints = [{"id": "wh_d"}, {"id": "wh_e"}]
    await db[WEBHOOKS].insert_one({"_id": hooks_id("dora"), "endpoints": endpoints})
    log = AttemptLog(lambda: db, per_bucket=2)

    def on(back: int) -> datetime:
        return datetime.combine(today - timedelta(days=back), AT.timetz())

    # Kept: today and the 29 days before it. Removed on the first pass: the CATCH_UP_DAYS
    # days before those; older ones are not looked at.
    for back in (0, 29, 30, 30 + CATCH_UP_DAYS - 1, 30 + CATCH_UP_DAYS):
        for number in range(1, 4):  # two buckets a day
            await log.record("wh_d", on(back), _attempt(number))
    await log.record("wh_e", on(31), _attempt(1))
    await log.record("wh_gone", on(31), _attempt(1))  # not registered: ingest's to remove

    clock = [today]
    pruner = AttemptPruner(lambda: db, 30, today=lambda: clock[0])
    assert await pruner.prune() == 2 + 2 + 1
    left = {key.rsplit("|", 1)[0] if key.count("|") == 2 else key for key in await _stored(db)}
    days_left = {k for k in left if k.startswith("wh_d")}
    assert days_left == {
        attempts_id("wh_d", today - timedelta(days=back)) for back in (0, 29, 30 + CATCH_UP_DAYS)
    }
    assert attempts_id("wh_gone", today - timedelta(days=31)) in left
    assert await pruner.prune() == 0  # the same day: nothing crossed the edge since
    clock[0] = today + timedelta(days=1)
    assert await pruner.prune() == 2  # the day that crossed it: today - 29, two buckets
