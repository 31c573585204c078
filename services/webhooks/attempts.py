"""The record of delivery attempts (``webhook_attempts``, see shared/webhooks.py): written in
bounded buckets per endpoint and UTC day, and removed once older than the retention.

Every access is by ``_id`` (the one filter FerretDB serves without reading the whole
collection): a bucket is found by walking a day's numbers, and a day is removed by deleting
its buckets one by one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.webhooks import (
    ATTEMPTS_PER_BUCKET,
    CATCH_UP_DAYS,
    WEBHOOK_ATTEMPTS,
    WEBHOOKS,
    attempts_id,
    bucket_counts,
    remove_day,
)

log = logging.getLogger(__name__)


class AttemptLog:
    """Appends attempts to the open bucket of their endpoint's day, remembering which bucket
    that is and how full (read from the database once per endpoint and day)."""

    def __init__(
        self,
        db: Callable[[], Any],
        *,
        per_bucket: int = ATTEMPTS_PER_BUCKET,
        remembered: int = 4096,
    ) -> None:
        self.db = db
        self.per_bucket = per_bucket
        self._remembered = remembered
        #: ``<endpoint>|<day>`` -> (its open bucket's number, attempts counted in it).
        self._open: OrderedDict[str, tuple[int, int]] = OrderedDict()

    async def record(self, endpoint_id: str, at: datetime, attempt: dict[str, Any]) -> None:
        day = at.astimezone(UTC).date()
        key = attempts_id(endpoint_id, day)
        opened = self._open.get(key)
        if opened is None:
            opened = await self._find_open(endpoint_id, day)
        number, count = opened
        if count >= self.per_bucket:
            number, count = number + 1, 0
        await self.db()[WEBHOOK_ATTEMPTS].update_one(
            {"_id": attempts_id(endpoint_id, day, number)},
            {"$push": {"attempts": attempt}, "$inc": {"count": 1}},
            upsert=True,
        )
        # Counted here only: another replica's attempts make a bucket a little fuller than
        # this count, which is why the bound is soft.
        self._open[key] = (number, count + 1)
        self._open.move_to_end(key)
        while len(self._open) > self._remembered:
            self._open.popitem(last=False)

    async def _find_open(self, endpoint_id: str, day: date) -> tuple[int, int]:
        counts = await bucket_counts(self.db()[WEBHOOK_ATTEMPTS], endpoint_id, day, self.per_bucket)
        if not counts:
            return 0, 0
        return len(counts) - 1, counts[-1]


class AttemptPruner:
    """Removes the attempts of days older than ``retention_days``, for every registered
    endpoint: on its first run the ``CATCH_UP_DAYS`` days past the edge, then each day that
    crossed it since. (A deleted endpoint's attempts are removed by ingest as it deletes it.)"""

    def __init__(
        self,
        db: Callable[[], Any],
        retention_days: int,
        *,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.db = db
        self.retention_days = retention_days
        self.today = today
        #: The newest day removed so far (None: not run yet).
        self._removed_up_to: date | None = None

    async def run(self) -> None:
        """One pass: the days that crossed the edge since the last (logged when any)."""
        await self.prune()

    async def prune(self) -> int:
        """One pass; returns how many buckets it removed."""
        # Kept: the edge and after (today and the retention_days - 1 days before it).
        edge = self.today() - timedelta(days=self.retention_days - 1)
        newest = edge - timedelta(days=1)
        oldest = (
            self._removed_up_to + timedelta(days=1)
            if self._removed_up_to is not None
            else newest - timedelta(days=CATCH_UP_DAYS - 1)
        )
        removed = 0
        if oldest <= newest:
            endpoint_ids = await self._endpoint_ids()
            day = oldest
            while day <= newest:
                for endpoint_id in endpoint_ids:
                    removed += await remove_day(self.db(), endpoint_id, day)
                day += timedelta(days=1)
        self._removed_up_to = newest
        if removed:
            log.info("old webhook attempts removed", extra={"buckets": removed})
        return removed

    async def _endpoint_ids(self) -> list[str]:
        # One document per owner: small, and read in full.
        ids: list[str] = []
        async for held in self.db()[WEBHOOKS].find({}):
            ids.extend(str(e["id"]) for e in held.get("endpoints", []))
        return ids
