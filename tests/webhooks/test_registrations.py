"""An owner's registrations, as the webhooks service reads them (services/webhooks/delivery.py
``Registrations``), on the session's FerretDB: read once for the finished documents of a
moment, never staler than the cache time, and afresh for a retry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.webhooks.delivery import Registrations
from shared.webhooks import WEBHOOKS, hooks_id

pytestmark = pytest.mark.integration


class Reads(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == WEBHOOKS:
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def db(mongo_url: str) -> AsyncIterator[tuple[Any, Reads]]:
    reads = Reads()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, event_listeners=[reads])
    database = client[f"hooks_{uuid.uuid4().hex[:8]}"]
    try:
        yield database, reads
    finally:
        await client.drop_database(database.name)
        await client.close()


async def _register(database: Any, owner: str, *endpoint_ids: str) -> None:
    endpoints = [{"id": e, "url": f"https://example.org/{e}", "events": []} for e in endpoint_ids]
    await database[WEBHOOKS].replace_one(
        {"_id": hooks_id(owner)}, {"owner": owner, "endpoints": endpoints}, upsert=True
    )


def _ids(endpoints: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in endpoints]


async def test_the_documents_of_a_moment_share_one_read(db: tuple[Any, Reads]) -> None:
    database, reads = db
    await _register(database, "alice", "a1", "a2")
    registrations = Registrations(lambda: database, ttl_s=1.0)
    found = await asyncio.gather(*(registrations.of("alice") for _ in range(20)))
    assert [_ids(f) for f in found] == [["a1", "a2"]] * 20
    assert await registrations.of("alice") == found[0]
    assert reads.count == 1


async def test_a_change_is_seen_once_the_cache_time_has_passed(db: tuple[Any, Reads]) -> None:
    database, reads = db
    clock = Clock()
    await _register(database, "bob", "b1")
    registrations = Registrations(lambda: database, ttl_s=1.0, clock=clock)
    assert _ids(await registrations.of("bob")) == ["b1"]
    await _register(database, "bob", "b1", "b2")
    clock.now += 0.9
    assert _ids(await registrations.of("bob")) == ["b1"]  # within the cache time
    clock.now += 0.1
    assert _ids(await registrations.of("bob")) == ["b1", "b2"]
    assert reads.count == 2
    # Another owner is read on its own: nothing of bob's stands in for it.
    assert await registrations.of("carol") == []
    assert reads.count == 3


async def test_a_retry_reads_afresh_and_sees_a_deletion(db: tuple[Any, Reads]) -> None:
    database, reads = db
    await _register(database, "dave", "d1")
    registrations = Registrations(lambda: database, ttl_s=60.0)
    assert _ids(await registrations.of("dave")) == ["d1"]
    await database[WEBHOOKS].delete_one({"_id": hooks_id("dave")})
    assert await registrations.of("dave", fresh=True) == []
    # The fresh read refreshed the cache: the next document does not see the deleted one.
    assert await registrations.of("dave") == []
    assert reads.count == 2


async def test_no_cache_time_reads_for_every_document(db: tuple[Any, Reads]) -> None:
    database, reads = db
    await _register(database, "erin", "e1")
    registrations = Registrations(lambda: database, ttl_s=0.0)
    for _ in range(3):
        assert _ids(await registrations.of("erin")) == ["e1"]
    assert reads.count == 3


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others(
    db: tuple[Any, Reads],
) -> None:
    database, reads = db
    await _register(database, "fay", "f1")
    registrations = Registrations(lambda: database, ttl_s=1.0)
    first = asyncio.ensure_future(registrations.of("fay"))
    second = asyncio.ensure_future(registrations.of("fay"))
    await asyncio.sleep(0)
    first.cancel()
    assert _ids(await second) == ["f1"]
    assert reads.count == 1
