"""What ingest decides before it answers: idempotency claims and first-copy pointers.

This is the one collection ingest writes. Everything else in MongoDB is the status service's
fold of documents.events, and the fold learns of a command only after the command is
published, which is too late for the two questions asked here before answering:

- *has this Idempotency-Key been used already?* Two retries can arrive at once; exactly one may
  publish. An insert keyed by ``_id`` is atomic on MongoDB and FerretDB alike: the one that
  gets a DuplicateKeyError lost, and waits for the winner's answer.
- *has this owner uploaded these bytes already?* The duplicate policy must answer 409 (reject)
  or link at upload time, so the content hash must lead to the first document at once. Two
  copies can arrive at once too: the pointer is claimed the same way (inserted by ``_id``,
  ``pending``) before the first copy publishes, and released if that publish fails.

Both are single documents addressed by ``_id`` (``idem|owner|key``, ``sha|owner|sha256``), the
one filter FerretDB serves without decoding the whole collection, so their cost does not grow
with the number stored. A claim carries ``expires_at``, the end of its key's lifetime; past it
the claim counts as absent, and :class:`ClaimPruner` removes it (FerretDB 1.x has no TTL
index, so ingest does it on a timer, on MongoDB too: one mechanism, tested here). A content
pointer has no ``expires_at``: it lives as long as its document (the status service removes it
with a deleted document).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DeleteOne
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.ingest import metrics
from services.ingest.errors import ApiError
from shared.readmodel import ADMISSIONS, content_pointer_id

log = logging.getLogger(__name__)
#: The field a claim (and a pruning run's slot) expires by; indexed for the pruner's query.
EXPIRES_AT = "expires_at"
#: Present once no claim without ``expires_at`` (written before it existed) was found; done
#: once none was found a key lifetime later either.
LEGACY_DONE = "prune|legacy-done"
#: Expired ids one run deletes at most (a backlog after a long outage goes over several runs).
MAX_PER_RUN = 200_000
#: Set on a content pointer from its claim until its document's records are queued.
PENDING = "pending"


def idem_id(owner: str, key: str) -> str:
    return f"idem|{owner}|{key}"


def fingerprint(route: str, *parts: str) -> str:
    """What makes two requests "the same" for a key: the route (method and path with the
    document id) and what they carry (the files' hashes, the command's body)."""
    return hashlib.sha256(json.dumps([route, *parts]).encode()).hexdigest()


@dataclass(frozen=True)
class ContentPointer:
    """Which document first had some bytes; ``pending`` while its upload is still publishing."""

    document_id: str
    pending: bool
    created_at: datetime


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Admissions:
    def __init__(self, db: Any, *, key_ttl_s: float, wait_s: float) -> None:
        self.collection = db[ADMISSIONS]
        self.key_ttl = timedelta(seconds=key_ttl_s)
        self.wait_s = wait_s

    # --- idempotency keys ---

    async def claim(self, owner: str, key: str, print_: str) -> Answer | None:
        """None: this request holds the key now and must :meth:`answer` (or :meth:`release`).
        Otherwise the first request's answer (waiting briefly while it is still working)."""
        _id = idem_id(owner, key)
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while True:
            try:
                now = datetime.now(UTC)
                await self.collection.insert_one(
                    {
                        "_id": _id,
                        "fingerprint": print_,
                        "created_at": now,
                        EXPIRES_AT: now + self.key_ttl,
                    }
                )
                return None
            except DuplicateKeyError:
                pass
            held = await self.collection.find_one({"_id": _id})
            if held is None:
                continue  # released or expired between our insert and read: try again
            if _expired(held, datetime.now(UTC), self.key_ttl):
                # Expired: the key may be used again as new (the pruner would have removed it).
                await self.forget_expired(held)
                continue
            if held.get("fingerprint") != print_:
                raise ApiError(
                    422,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                )
            if "answer" in held:
                stored = held["answer"]
                return Answer(int(stored["status"]), stored["body"], dict(stored["headers"]))
            if asyncio.get_running_loop().time() >= deadline:
                raise ApiError(
                    409,
                    "idempotency_key_in_use",
                    "a request with this Idempotency-Key is still being processed; retry",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(0.05)

    async def forget_expired(self, held: dict[str, Any]) -> None:
        """Remove the expired claim ``held`` as it was read, not whatever has its id now: two
        retries may find the same expired claim, and the second must not delete the claim
        the first has just made (both would then run). The filter has more than ``_id``, so
        FerretDB reads the collection for it; a key used again after its lifetime is rare."""
        await self.collection.delete_one({"_id": held["_id"], "created_at": held["created_at"]})

    async def answer(self, owner: str, key: str, answer: Answer, print_: str) -> None:
        """Stored with the claim, or as a new claim if it vanished meanwhile: the pruner finds
        expired claims, then deletes them by ``_id`` (the one filter FerretDB 1.x serves by
        index), so a claim that expired and was made again in the seconds between goes with
        them. This keeps the first request's answer; a retry arriving in that same window
        would still run again (both on a key past its lifetime, then reused at once)."""
        now = datetime.now(UTC)
        await self.collection.update_one(
            {"_id": idem_id(owner, key)},
            {
                "$set": {
                    "answer": {
                        "status": answer.status,
                        "body": answer.body,
                        "headers": answer.headers,
                    },
                    "answered_at": now,
                },
                "$setOnInsert": {
                    "fingerprint": print_,
                    "created_at": now,
                    EXPIRES_AT: now + self.key_ttl,
                },
            },
            upsert=True,
        )

    async def release(self, owner: str, key: str) -> None:
        """The request failed in a way a retry may fix (503, a crash): free the key."""
        await self.collection.delete_one({"_id": idem_id(owner, key)})

    # --- first copies by content hash ---

    async def claim_first(self, owner: str, sha256: str, document_id: str) -> ContentPointer | None:
        """None: ``document_id`` is the owner's first copy of these bytes now. Its pointer is
        inserted ``pending`` *before* the upload publishes (an insert by ``_id`` is atomic, so
        of concurrent copies exactly one gets here) and stays so until :meth:`published`, or
        :meth:`release_first` when the publish failed. Otherwise the pointer someone holds."""
        _id = content_pointer_id(owner, sha256)
        while True:
            try:
                await self.collection.insert_one(
                    {
                        "_id": _id,
                        "document_id": document_id,
                        "created_at": datetime.now(UTC),
                        PENDING: True,
                    }
                )
                return None
            except DuplicateKeyError:
                pass
            held = await self.collection.find_one({"_id": _id})
            if held is not None:
                return ContentPointer(
                    document_id=str(held["document_id"]),
                    pending=bool(held.get(PENDING)),
                    created_at=_aware(held["created_at"]),
                )
            # released or forgotten between our insert and read: try again

    async def published(self, owner: str, sha256: str, document_id: str) -> None:
        """The claiming upload's records are queued: its pointer is final. By ``_id`` alone:
        only a claim older than any publish can take is ever taken over, so the pointer is
        still this upload's. Never fails the upload (it is queued already): a pending
        pointer whose document is in the read model counts as published anyway."""
        try:
            await self.collection.update_one(
                {"_id": content_pointer_id(owner, sha256)}, {"$unset": {PENDING: ""}}
            )
        except PyMongoError as exc:
            log.warning(
                "first-copy pointer not marked published",
                extra={"document_id": document_id, "error": repr(exc)},
            )

    async def release_first(self, owner: str, sha256: str, document_id: str) -> None:
        """The claiming upload was not queued: free the pointer, so it never leads to a
        document that does not exist and the next copy is processed as the first. Read,
        then deleted by ``_id``: nobody else replaces a claim while it is pending and young.
        A pointer left behind (the database failed too) is taken over once stale."""
        _id = content_pointer_id(owner, sha256)
        try:
            held = await self.collection.find_one({"_id": _id})
            if held is not None and held.get("document_id") == document_id:
                await self.collection.delete_one({"_id": _id})
        except PyMongoError as exc:
            log.warning(
                "first-copy claim not released",
                extra={"document_id": document_id, "error": repr(exc)},
            )

    async def forget_first(self, owner: str, sha256: str, pointer: ContentPointer) -> None:
        """The pointer's document is gone (deleted, or its upload died before publishing):
        remove the pointer as it was read, not whatever has its id now (a copy that claimed
        it again meanwhile keeps its claim). The filter has more than ``_id``, so FerretDB
        reads the collection for it; this path is rare (the status service removes a
        deleted document's pointer itself)."""
        await self.collection.delete_one(
            {"_id": content_pointer_id(owner, sha256), "document_id": pointer.document_id}
        )

    async def remember(self, owner: str, sha256: str, document_id: str) -> None:
        """For a copy uploaded under ``process`` (which claims nothing), once its publish
        succeeded: it becomes the first if there was none.

        Never fails the upload (it is queued already): without the pointer a later copy is
        merely processed again."""
        try:
            await self.collection.insert_one(
                {
                    "_id": content_pointer_id(owner, sha256),
                    "document_id": document_id,
                    "created_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            pass
        except PyMongoError as exc:
            log.warning("first-copy pointer not stored", extra={"error": repr(exc)})


def _expired(claim: dict[str, Any], now: datetime, key_ttl: timedelta) -> bool:
    """Past its ``expires_at``, or older than the key lifetime configured now (which may have
    been shortened since; claims of earlier versions have no ``expires_at``)."""
    ends = claim.get(EXPIRES_AT)
    if ends is not None and _aware(ends) <= now:
        return True
    return _aware(claim["created_at"]) < now - key_ttl


class ClaimPruner:
    """Removes expired claims, ``batch`` at a time: their ids are found by ``expires_at``
    (indexed), then deleted by ``_id`` in one bulk write, the one filter FerretDB serves
    without reading the whole collection (measured on FerretDB 1.24 with 150,000 documents:
    one ``delete_many`` by ``$in`` of 1,000 ids took ~6 s; 5,000 deletes by ``_id`` in a bulk
    write 1.3 s; and a ``delete_many`` matching more than ~32,000 documents fails there, as
    SQLite refuses so many statement variables).

    Several ingest replicas share the work by the hour: each run first inserts the hour's slot
    (``prune|<hour>``); the replica whose insert fails leaves the hour to the one that made it.
    A slot expires like a claim, so the pruner removes old slots too. Claims written before
    ``expires_at`` existed go by their age, until none is left."""

    def __init__(
        self,
        db: Any,
        *,
        key_ttl_s: float,
        batch: int = 5_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.collection = db[ADMISSIONS]
        self.key_ttl = timedelta(seconds=key_ttl_s)
        self.batch = batch
        self.clock = clock
        self._indexed = False
        self._legacy_done = False

    async def run(self) -> int:
        """One run (none when another replica has this hour); returns the claims removed."""
        if not self._indexed:
            await self.collection.create_index([(EXPIRES_AT, ASCENDING)])
            self._indexed = True
        now = self.clock()
        hour = now.replace(minute=0, second=0, microsecond=0)
        try:
            await self.collection.insert_one(
                {"_id": f"prune|{hour:%Y-%m-%dT%H}", EXPIRES_AT: hour + timedelta(days=1)}
            )
        except DuplicateKeyError:
            return 0
        removed = await self._remove_legacy(now) + await self._remove({EXPIRES_AT: {"$lt": now}})
        if removed:
            log.info("expired idempotency claims removed", extra={"claims": removed})
        return removed

    async def _remove_legacy(self, now: datetime) -> int:
        """Claims of versions before ``expires_at``, by age. Once a run finds none left, and
        another finds none a key lifetime later (replicas of the old version may still have
        been writing them meanwhile), a marker says so and no run looks again: their query
        cannot use the index."""
        if self._legacy_done:
            return 0
        marker = await self.collection.find_one({"_id": LEGACY_DONE})
        if marker is not None and marker.get("done"):
            self._legacy_done = True
            return 0
        legacy = {"fingerprint": {"$exists": True}, EXPIRES_AT: {"$exists": False}}
        removed = await self._remove({**legacy, "created_at": {"$lt": now - self.key_ttl}})
        if await self.collection.find_one(legacy, {"_id": 1}) is not None:
            if marker is not None:  # written since a clean run: start the wait again
                await self.collection.delete_one({"_id": LEGACY_DONE})
            return removed
        if marker is None:
            with contextlib.suppress(DuplicateKeyError):
                await self.collection.insert_one({"_id": LEGACY_DONE, "clean_since": now})
        elif now - _aware(marker["clean_since"]) >= self.key_ttl:
            await self.collection.update_one({"_id": LEGACY_DONE}, {"$set": {"done": True}})
            self._legacy_done = True
        return removed

    async def _remove(self, which: dict[str, Any]) -> int:
        """Delete what matches, in bulk writes of ``batch`` ids from one pass of one cursor
        (on FerretDB each new query reads the collection again); at most ``MAX_PER_RUN`` ids,
        the rest next run. Returns the claims deleted (slots and markers not counted)."""
        removed = 0
        ids: list[Any] = []
        found = self.collection.find(which, {"_id": 1}, batch_size=self.batch).limit(MAX_PER_RUN)
        async for doc in found:
            ids.append(doc["_id"])
            if len(ids) >= self.batch:
                removed += await self._delete(ids)
                ids = []
        if ids:
            removed += await self._delete(ids)
        return removed

    async def _delete(self, ids: list[Any]) -> int:
        result = await self.collection.bulk_write(
            [DeleteOne({"_id": i}) for i in ids], ordered=False
        )
        others = sum(1 for i in ids if not str(i).startswith("idem|"))
        claims = max(int(result.deleted_count) - others, 0)
        metrics.CLAIMS_REMOVED.inc(claims)
        return claims


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
