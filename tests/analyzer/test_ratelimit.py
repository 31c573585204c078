"""The rate limiters' algorithm, with an injected clock and an in-memory collection."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, cast

import pytest
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.analyzer.analysis import LocalRateLimiter, MongoRateLimiter, gcra_reserve


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeCollection:
    """Just the operations MongoRateLimiter uses, with MongoDB's semantics for them."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.inserts = 0

    @staticmethod
    def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
        for field, cond in query.items():
            value = doc.get(field)
            if isinstance(cond, dict):
                if "$lt" in cond and not (value is not None and value < cond["$lt"]):
                    return False
            elif value != cond:
                return False
        return True

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((dict(d) for d in self.docs.values() if self._matches(d, query)), None)

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self.inserts += 1
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("E11000 duplicate key")
        self.docs[doc["_id"]] = dict(doc)

    async def update_one(
        self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False
    ) -> None:
        for doc in self.docs.values():
            if self._matches(doc, query):
                doc.update(update["$set"])
                return
        if upsert:
            await self.insert_one({"_id": query["_id"], **update["$set"]})

    async def delete_many(self, query: dict[str, Any]) -> None:
        for key in [k for k, d in self.docs.items() if self._matches(d, query)]:
            del self.docs[key]


def mongo_limiter(
    collection: FakeCollection, per_minute: float, clock: FakeClock, burst: int = 1
) -> MongoRateLimiter:
    return MongoRateLimiter(
        cast(AsyncCollection[Any], collection),
        "k",
        per_minute,
        burst=burst,
        clock=clock,
        sleep=clock.sleep,
    )


def test_gcra_spaces_reservations_by_the_interval() -> None:
    nxt = None
    slots = []
    for _ in range(4):
        slot, nxt = gcra_reserve(nxt, now=100.0, interval=6.0, tolerance=0.0)
        slots.append(slot)
    assert slots == [100.0, 106.0, 112.0, 118.0]


def test_gcra_does_not_bank_credit_while_idle() -> None:
    slot, nxt = gcra_reserve(None, now=0.0, interval=1.0, tolerance=0.0)
    slot, nxt = gcra_reserve(nxt, now=50.0, interval=1.0, tolerance=0.0)
    assert slot == 50.0
    slot, _ = gcra_reserve(nxt, now=50.0, interval=1.0, tolerance=0.0)
    assert slot == 51.0  # no burst of 49 saved-up calls


def test_gcra_burst_tolerance() -> None:
    nxt = None
    slots = []
    for _ in range(5):
        slot, nxt = gcra_reserve(nxt, now=10.0, interval=1.0, tolerance=2.0)
        slots.append(slot)
    assert slots == [10.0, 10.0, 10.0, 11.0, 12.0]


async def test_local_limiter_waits_between_calls() -> None:
    clock = FakeClock(0.0)
    limiter = LocalRateLimiter(60, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == [1.0, 1.0]
    assert clock.now == 2.0


async def test_mongo_limiter_slots_are_evenly_spaced() -> None:
    clock = FakeClock(1_000_000.0)
    limiter = mongo_limiter(FakeCollection(), 10, clock)
    starts = [await limiter.reserve() for _ in range(4)]
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([6.0] * 3)
    assert starts[0] >= clock.now


async def test_two_replicas_never_share_a_slot() -> None:
    shared = FakeCollection()
    clock = FakeClock(2_000_000.0)
    a = mongo_limiter(shared, 60, clock)
    b = mongo_limiter(shared, 60, clock)
    starts = await asyncio.gather(*[(a if i % 2 else b).reserve() for i in range(10)])
    assert len(set(starts)) == 10
    ordered = sorted(starts)
    assert all(y - x == pytest.approx(1.0) for x, y in itertools.pairwise(ordered))


async def test_a_stale_hint_costs_probes_not_correctness() -> None:
    shared = FakeCollection()
    clock = FakeClock(3_000_000.0)
    a = mongo_limiter(shared, 60, clock)
    first = await a.reserve()
    shared.docs[a.hint_id]["next"] = 0  # a lost hint update
    b = mongo_limiter(shared, 60, clock)
    second = await b.reserve()
    assert second == pytest.approx(first + 1.0)


async def test_mongo_limiter_observed_rate_over_a_backlog() -> None:
    """Two replicas with a backlog for 10 simulated minutes: the count is L per minute."""
    shared = FakeCollection()
    clock = FakeClock(4_000_000.0)
    limiters = [mongo_limiter(shared, 30, clock) for _ in range(2)]
    calls: list[float] = []
    start = clock.now
    while clock.now < start + 600:
        for limiter in limiters:
            await limiter.acquire()
            calls.append(clock.now)
    in_window = [t for t in calls if t < start + 600]
    assert abs(len(in_window) / 10 - 30) / 30 <= 0.01


async def test_burst_lets_the_first_calls_through() -> None:
    clock = FakeClock(5_000_000.0)
    limiter = mongo_limiter(FakeCollection(), 60, clock, burst=3)
    for _ in range(3):
        await limiter.acquire()
    assert sum(clock.slept) <= 1.0  # grid alignment only, no spacing
    await limiter.acquire()
    await limiter.acquire()
    assert clock.now - 5_000_000.0 >= 2.0


async def test_old_slots_are_cleaned_up() -> None:
    shared = FakeCollection()
    clock = FakeClock(6_000_000.0)
    # 6 per minute: slots of 10 s, kept for 100 slots (the ten minutes are fewer).
    limiter = mongo_limiter(shared, 6, clock)
    for _ in range(400):
        await limiter.acquire()
    slots = sorted(d["slot"] for d in shared.docs.values() if "slot" in d)
    assert len(slots) < 200
    assert slots[-1] - slots[0] >= 100  # the recent ones are kept


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LocalRateLimiter(0)


async def test_a_changed_limit_uses_its_own_slots() -> None:
    shared = FakeCollection()
    clock = FakeClock(7_000_000.0)
    fast = mongo_limiter(shared, 600, clock)
    for _ in range(5):
        await fast.reserve()
    # Five per minute now: the old grid's hint must not push slots years ahead.
    slow = mongo_limiter(shared, 5, clock)
    start = await slow.reserve()
    assert clock.now <= start < clock.now + 12.0


async def test_a_store_outage_makes_calls_wait_not_fail() -> None:
    from pymongo.errors import AutoReconnect

    class RestartingStore(FakeCollection):
        """A database restart: the first few operations fail, then it is back."""

        def __init__(self, failures: int) -> None:
            super().__init__()
            self.failures = failures

        async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
            if self.failures:
                self.failures -= 1
                raise AutoReconnect("connection refused")
            return await super().find_one(query)

    clock = FakeClock()
    store = RestartingStore(failures=3)
    limiter = mongo_limiter(store, 60, clock)
    await limiter.acquire()  # before the fix: AutoReconnect, and the document failed
    assert store.failures == 0
    slots = [k for k in store.docs if not k.endswith("#next")]
    assert slots == ["k@60/min#1000002"]  # one slot, claimed once the store was back
    assert len(clock.slept) >= 3  # it waited for the store, with backoff
