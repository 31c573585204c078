"""What ingest decides before it answers: idempotency claims and first-copy pointers.

This is the one collection ingest writes. Everything else in MongoDB is the status service's
fold of documents.events, and the fold learns of a command only after the command is
published, which is too late for the two questions asked here before answering:

- *has this Idempotency-Key been used already?* Two retries can arrive at once; exactly one may
  publish. An insert keyed by ``_id`` is atomic on MongoDB and FerretDB alike: the one that
  gets a DuplicateKeyError lost, and waits for the winner's answer.
- *has this owner uploaded these bytes already?* The duplicate policy must answer 409 (reject)
  or link at upload time, so the content hash must lead to the first document at once.

Both are single documents addressed by ``_id`` (``idem|owner|key``, ``sha|owner|sha256``), the
one filter FerretDB serves without decoding the whole collection, so their cost does not grow
with the number stored. Ingest treats a claim older than the key's lifetime as absent (claims
carry ``created_at``); nothing removes old claims yet, so the collection keeps one small
document per idempotent request and per distinct content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from services.ingest.errors import ApiError
from shared.readmodel import ADMISSIONS, content_pointer_id

log = logging.getLogger(__name__)


def idem_id(owner: str, key: str) -> str:
    return f"idem|{owner}|{key}"


def fingerprint(route: str, *parts: str) -> str:
    """What makes two requests "the same" for a key: the route (method and path with the
    document id) and what they carry (the files' hashes, the command's body)."""
    return hashlib.sha256(json.dumps([route, *parts]).encode()).hexdigest()


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
                await self.collection.insert_one(
                    {"_id": _id, "fingerprint": print_, "created_at": datetime.now(UTC)}
                )
                return None
            except DuplicateKeyError:
                pass
            held = await self.collection.find_one({"_id": _id})
            if held is None:
                continue  # released or expired between our insert and read: try again
            if _aware(held["created_at"]) < datetime.now(UTC) - self.key_ttl:
                # Expired: the key may be used again as new. (Housekeeping would have removed it.)
                await self.collection.delete_one({"_id": _id})
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

    async def answer(self, owner: str, key: str, answer: Answer) -> None:
        await self.collection.update_one(
            {"_id": idem_id(owner, key)},
            {
                "$set": {
                    "answer": {
                        "status": answer.status,
                        "body": answer.body,
                        "headers": answer.headers,
                    },
                    "answered_at": datetime.now(UTC),
                }
            },
        )

    async def release(self, owner: str, key: str) -> None:
        """The request failed in a way a retry may fix (503, a crash): free the key."""
        await self.collection.delete_one({"_id": idem_id(owner, key)})

    # --- first copies by content hash ---

    async def first_copy(self, owner: str, sha256: str) -> str | None:
        found = await self.collection.find_one({"_id": content_pointer_id(owner, sha256)})
        return str(found["document_id"]) if found else None

    async def remember(self, owner: str, sha256: str, document_id: str) -> None:
        """Called once the document's publish succeeded; the earliest stays the first.

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

    async def replace_first(self, owner: str, sha256: str, document_id: str) -> None:
        """The first copy was deleted: this document is the first now."""
        try:
            await self.collection.replace_one(
                {"_id": content_pointer_id(owner, sha256)},
                {"document_id": document_id, "created_at": datetime.now(UTC)},
                upsert=True,
            )
        except PyMongoError as exc:
            log.warning("first-copy pointer not replaced", extra={"error": repr(exc)})


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
