"""A global limit on model calls, shared by every analyzer replica, kept in MongoDB.

Algorithm: GCRA (generic cell rate algorithm) on a fixed grid of slots. Time is cut into slots
of one emission interval ``T = 60 s / limit``; slot ``k`` starts at ``k * T`` (epoch seconds).
A call needs a slot of its own, claimed by inserting the document ``{_id: "<key>#<k>"}``: the
unique ``_id`` makes the insert an atomic compare-and-set, so two replicas can never hold the
same slot, and calls are spaced at least ``T`` apart (with ``burst=1``) instead of coming in
bursts at window edges. A caller claims the first free slot at or after now, then sleeps
until the slot starts, so a backlog queues across all replicas in claim order.

Why inserts and not ``$inc`` on one counter: FerretDB 1.x applies update operators by reading
the document, changing it and writing it back without isolation, so concurrent ``$inc`` or
compare-and-set updates lose increments (measured: 50 concurrent ``$inc`` of 1 moved a counter
by 6). A duplicate ``_id`` is refused atomically by both FerretDB and MongoDB.

To avoid probing claimed slots one by one, a hint document ``{_id: "<key>#next", next: k}``
records the next probably-free slot. It is only a hint: a stale or lost hint update costs a
few extra probes, never a second call in one slot. Old slot documents are deleted now and
then (FerretDB has no TTL indexes). A claimed slot whose caller is cancelled stays unused: the
limiter may run below the limit, never above it. Document ids also carry the limit
(``"<key>@<L>/min#<k>"``): slot numbers are only comparable on one grid.

Clocks: each replica uses its own wall clock; skew between replicas can only move a call
within its own slot's timing, not put two calls in one slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.analyzer import metrics

logger = logging.getLogger(__name__)


@runtime_checkable
class RateLimiter(Protocol):
    async def acquire(self) -> None:
        """Wait until one more model call is allowed (globally), and count it."""
        ...


def gcra_reserve(
    next_free: float | None, now: float, interval: float, tolerance: float
) -> tuple[float, float]:
    """One GCRA reservation: ``(slot, new_next_free)``.

    ``next_free`` is the stored earliest time for the next call (None when never used),
    ``tolerance`` how far behind ``now`` it may lag, i.e. the burst allowance
    (``(burst - 1) * interval``). The call may start at ``slot`` (>= ``now``).
    """
    floor = now - tolerance
    start = floor if next_free is None else max(next_free, floor)
    return max(start, now), start + interval


def _interval(per_minute: float) -> float:
    if per_minute <= 0:
        raise ValueError("per_minute must be positive")
    return 60.0 / per_minute


class LocalRateLimiter:
    """The same algorithm in memory: for one process (tests, a single-replica dev setup)."""

    def __init__(
        self,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = _interval(per_minute)
        self.tolerance = max(0, burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._next_free: float | None = None

    def reserve(self) -> float:
        slot, self._next_free = gcra_reserve(
            self._next_free, self._clock(), self.interval, self.tolerance
        )
        return slot

    async def acquire(self) -> None:
        delay = self.reserve() - self._clock()
        metrics.RATE_LIMIT_WAIT.observe(max(delay, 0.0))
        if delay > 0:
            await self._sleep(delay)


class MongoRateLimiter:
    """GCRA over slot documents in one MongoDB/FerretDB collection: one limit for all
    processes that share ``key`` (e.g. one per API key and model)."""

    def __init__(
        self,
        collection: AsyncCollection[Any],
        key: str,
        per_minute: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.collection = collection
        self.key = key
        # Slot numbers only mean something on one grid: a changed limit gets its own
        # documents, or an old hint would point at slots decades away on the new grid.
        self.namespace = f"{key}@{per_minute:g}/min"
        self.interval = _interval(per_minute)
        self.tolerance = max(0, burst - 1) * self.interval
        self._clock = clock
        self._sleep = sleep
        self._next_local = 0
        self._claims = 0
        # Slots kept before deletion: ten minutes, and never fewer than a hundred.
        self._keep_slots = max(100, math.ceil(600 / self.interval))

    def _slot_id(self, slot: int) -> str:
        return f"{self.namespace}#{slot}"

    @property
    def hint_id(self) -> str:
        return f"{self.namespace}#next"

    def first_slot(self, now: float) -> int:
        """The earliest slot a call arriving at ``now`` may take: the first one starting at or
        after ``now - tolerance`` (a hair of float slack so an exact boundary counts)."""
        return math.ceil((now - self.tolerance) / self.interval - 1e-9)

    async def _reserve_when_store_is_up(self) -> float:
        """A store outage (a database restart) makes calls wait for it, never fail: the
        documents in flight would otherwise all fail at once for a blip of ours. The caller's
        cancellation and the stalled-document watchdog bound the wait."""
        delay = 0.2
        while True:
            try:
                return await self.reserve()
            except PyMongoError as exc:
                logger.warning(
                    "rate limit store unavailable; waiting",
                    extra={"error": repr(exc)[:200], "retry_in_s": delay},
                )
                await self._sleep(delay)
                delay = min(delay * 2, 5.0)

    async def reserve(self) -> float:
        """Claim the next free slot; returns its start time (epoch seconds)."""
        hint_doc = await self.collection.find_one({"_id": self.hint_id})
        hint = int(hint_doc["next"]) if hint_doc and "next" in hint_doc else 0
        slot = max(self.first_slot(self._clock()), hint, self._next_local)
        while True:
            try:
                await self.collection.insert_one(
                    {"_id": self._slot_id(slot), "key": self.namespace, "slot": slot}
                )
                break
            except DuplicateKeyError:
                slot += 1
        self._next_local = slot + 1
        # Best effort: the hint only saves probes (see the module docstring).
        with contextlib.suppress(DuplicateKeyError):
            await self.collection.update_one(
                {"_id": self.hint_id, "next": {"$lt": slot + 1}},
                {"$set": {"next": slot + 1, "key": self.namespace}},
                upsert=True,
            )
        self._claims += 1
        if self._claims % 50 == 1:
            await self.collection.delete_many(
                {"key": self.namespace, "slot": {"$lt": slot - self._keep_slots}}
            )
        return slot * self.interval

    async def acquire(self) -> None:
        start = await self._reserve_when_store_is_up()
        delay = start - self._clock()
        metrics.RATE_LIMIT_WAIT.observe(max(delay, 0.0))
        if delay > 0:
            await self._sleep(delay)
