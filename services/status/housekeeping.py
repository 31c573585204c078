"""Retention, done by the status service on a timer (FerretDB has no TTL indexes).

When a document finishes, its id goes into its partition's bucket for that hour (``finished``
collection, ``<partition>|<yyyy-mm-ddThh>|<n>``; the replica folding the partition is its only
writer). A bucket holds at most :data:`BUCKET_IDS` ids, then the hour's next one starts: every
finish rewrites its bucket, so a bucket that grew with the hour (a day's, before that) made
each finish cost more the busier the system was. A sweep reads an hour's buckets in order
(and ``<partition>|<yyyy-mm-ddThh>``, an hour's single bucket as earlier versions wrote it).
Every sweep takes each partition's buckets older than a retention, oldest first, and for each
document in them: drops the processing log (``DOCSTREAM_STATUS_RETAIN_LOGS_DAYS``) and, for a
failed document, its files (``DOCSTREAM_STATUS_RETAIN_FAILED_FILES_DAYS``); a cursor per task
and partition remembers the last hour done. The cost is per finished document, once.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.status import metrics
from services.status.fold import TERMINAL
from services.status.settings import StatusSettings
from shared.blobs import BlobStore, document_blob_prefix
from shared.readmodel import DOCUMENTS

log = logging.getLogger(__name__)
FINISHED = "finished"
_TASKS = ("logs", "failed_files")
#: Ids per bucket: a finish rewrites one bucket of at most this many (~4 KB).
BUCKET_IDS = 100


def hour_id(partition: int, hour: datetime) -> str:
    """An hour's single bucket as earlier versions wrote it; the prefix of its buckets now."""
    return f"{partition}|{hour.astimezone(UTC):%Y-%m-%dT%H}"


def bucket_id(partition: int, hour: datetime, number: int) -> str:
    return f"{hour_id(partition, hour)}|{number:04d}"


def _hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _cursor_id(task: str, partition: int) -> str:
    return f"cursor|{task}|{partition}"


async def record_finished(db: Any, doc: dict[str, Any], when: datetime) -> None:
    """The document's id in its finishing hour's bucket (idempotent: a replay adds nothing)."""
    await FinishedLog().record(db, doc, when)


class FinishedLog:
    """Records finished documents in their hour's bucket, remembering what it wrote: the
    replica folding a partition is its buckets' only writer, so a bucket it read or wrote is
    not read again for every document that finishes, nor the partition's first hour once it is
    there (two reads a finished document saved). :meth:`forget` when partitions move."""

    def __init__(self, cached: int = 64) -> None:
        #: Per partition and hour: the number of its open bucket, and that bucket's ids.
        self._open: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()
        self._first: set[int] = set()
        self._capacity = cached

    def forget(self) -> None:
        self._open.clear()
        self._first.clear()

    async def record(self, db: Any, doc: dict[str, Any], when: datetime) -> None:
        partition = int(doc["position"]["partition"])
        hour = hour_id(partition, when)
        opened = self._open.get(hour)
        if opened is None:
            opened = await self._find_open(db, partition, when, doc["_id"])
            if opened is None:
                return  # recorded already (a replay)
        number, ids = opened
        if doc["_id"] in ids:
            return
        if len(ids) >= BUCKET_IDS:
            number, ids = number + 1, []
        ids = [*ids, doc["_id"]]
        await db[FINISHED].replace_one(
            {"_id": bucket_id(partition, when, number)},
            {"partition": partition, "ids": ids},
            upsert=True,
        )
        self._keep(hour, (number, ids))
        if partition not in self._first:
            first = {"_id": f"first|{partition}"}
            if await db[FINISHED].find_one(first) is None:
                await db[FINISHED].replace_one(
                    first, {"hour": _hour(when).isoformat()}, upsert=True
                )
            self._first.add(partition)

    async def _find_open(
        self, db: Any, partition: int, when: datetime, document_id: Any
    ) -> tuple[int, list[Any]] | None:
        """The hour's last bucket (read once, then known); None when one of the hour's
        buckets holds the document already."""
        number = 0
        while True:
            found = await db[FINISHED].find_one({"_id": bucket_id(partition, when, number)})
            if found is None:
                return number, []  # the hour's first bucket, or the one after a full one
            ids = list(found.get("ids") or [])
            if document_id in ids:
                return None
            if len(ids) < BUCKET_IDS:
                return number, ids
            number += 1

    def _keep(self, hour: str, opened: tuple[int, list[Any]]) -> None:
        self._open[hour] = opened
        self._open.move_to_end(hour)
        while len(self._open) > self._capacity:
            self._open.popitem(last=False)


class Housekeeping:
    def __init__(
        self,
        settings: StatusSettings,
        blobs: BlobStore,
        database: Callable[[], Any],
        *,
        changed: Callable[[str], None] = lambda _id: None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._changed = changed  # the fold's cache must not write the old version back
        self.settings = settings
        self.blobs = blobs
        self._database = database
        self._today = today

    def _retention(self, task: str) -> float | None:
        s = self.settings
        return s.retain_logs_days if task == "logs" else s.retain_failed_files_days

    async def sweep(self, partitions: set[int]) -> int:
        """Documents housekept; never raises (the next sweep tries again)."""
        done = 0
        try:
            for task in _TASKS:
                days = self._retention(task)
                if days is None:
                    continue
                last_day = self._today() - timedelta(days=days)
                for partition in sorted(partitions):
                    done += await self._task(task, partition, last_day)
        except Exception:
            log.exception("housekeeping sweep failed")
        return done

    async def _task(self, task: str, partition: int, last_day: date) -> int:
        db = self._database()
        cursor = await db[FINISHED].find_one({"_id": _cursor_id(task, partition)})
        if cursor is not None:
            hour = datetime.fromisoformat(cursor["hour"]) + timedelta(hours=1)
        else:
            first = await db[FINISHED].find_one({"_id": f"first|{partition}"})
            if first is None:
                return 0
            hour = datetime.fromisoformat(first["hour"])
        end = datetime.combine(last_day, datetime.min.time(), tzinfo=UTC)
        done = 0
        while hour < end:
            async for document_id in _finished_in(db, partition, hour):
                done += await self._tidy(db, task, str(document_id))
            # Buckets stay (small, one an hour at most): each task has its cursor.
            cursor_id = {"_id": _cursor_id(task, partition)}
            await db[FINISHED].replace_one(cursor_id, {"hour": hour.isoformat()}, upsert=True)
            hour += timedelta(hours=1)
        return done

    async def _tidy(self, db: Any, task: str, document_id: str) -> int:
        doc = await db[DOCUMENTS].find_one({"_id": document_id})
        if doc is None or doc.get("deleted") or doc.get("status") not in TERMINAL:
            return 0  # deleted already, or reprocessed since: its new end is recorded anew
        if task == "logs" and doc.get("_log"):
            await db[DOCUMENTS].update_one({"_id": document_id}, {"$unset": {"_log": ""}})
            self._changed(document_id)
            metrics.HOUSEKEPT.labels("log").inc()
            return 1
        if task == "failed_files" and doc.get("status") == "failed":
            removed = await self.blobs.delete_prefix(document_blob_prefix(document_id))
            if removed:
                metrics.HOUSEKEPT.labels("failed_files").inc()
                return 1
        return 0


async def _finished_in(db: Any, partition: int, hour: datetime) -> AsyncIterator[Any]:
    """The ids of the documents finished in that hour (buckets in order, by ``_id``: a range
    filter would make FerretDB read the whole collection)."""
    legacy = await db[FINISHED].find_one({"_id": hour_id(partition, hour)})
    for document_id in (legacy or {}).get("ids") or []:
        yield document_id
    number = 0
    while True:
        bucket = await db[FINISHED].find_one({"_id": bucket_id(partition, hour, number)})
        if bucket is None:
            return
        for document_id in bucket.get("ids") or []:
            yield document_id
        number += 1
