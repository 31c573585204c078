"""The read-model store on the real FerretDB: cached reads, guarded writes, lost races."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import AsyncMongoClient

from services.status.fold import Position
from services.status.store import ReadModelStore
from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentCompleted,
    ExtractionStarted,
)

DOC = "e" * 32


def _ev(cls: Any, **kw: Any) -> Any:
    return cls(source="/t", subject=DOC, owner="alice", generation=1, **kw)


async def test_a_stale_replica_refolds_instead_of_overwriting(mongo_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    db = client[f"store_{uuid.uuid4().hex[:8]}"]
    collection = db["documents"]
    try:
        # Guarded writes, as on MongoDB (on FerretDB they are off: see the store's docstring).
        first, second = ReadModelStore(db, guarded=True), ReadModelStore(db, guarded=True)
        accepted = _ev(DocumentAccepted, data=AcceptedData(filename="f", size=1, sha256="s"))
        await first.apply(DOC, [(accepted, Position(0, 0))])
        await second.apply(DOC, [(_ev(ExtractionStarted), Position(0, 1))])  # reads, caches
        await first.apply(DOC, [(_ev(DocumentCompleted), Position(0, 2))])  # stale cache: loses
        stored = await collection.find_one({"_id": DOC})
        assert stored is not None
        assert stored["status"] == "completed"
        assert stored["position"] == {"partition": 0, "offset": 2}
        assert stored["filename"] == "f"
        # Redelivery of an old event changes nothing, from either replica.
        await second.apply(DOC, [(accepted, Position(0, 0))])
        again = await collection.find_one({"_id": DOC})
        assert again == stored
        # Finished: no in-flight marker left; one summary in the owner's listing.
        assert await db["inflight"].find_one({"_id": DOC}) is None
        listing = await db["listings"].find_one({"_id": "alice|0|000000"})
        assert listing is not None
        assert [e["id"] for e in listing["entries"]] == [DOC]
        assert listing["entries"][0]["status"] == "completed"
    finally:
        await client.drop_database(collection.database.name)
        await client.close()
