from __future__ import annotations

import asyncio
import json

from aiokafka import ConsumerRecord

from services.gateway.hub import Hub, LiveEvent, Subscription


def _item(offset: int, type_: str) -> LiveEvent:
    return LiveEvent("d", "alice", type_, 1, 0, offset, json.dumps({"type": type_}))


def _record(
    offset: int, subject: str, owner: str, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    value = json.dumps({"subject": subject, "owner": owner, "type": "document.accepted"}).encode()
    key = subject.encode()
    return ConsumerRecord("t", partition, offset, 0, 0, key, value, None, len(key), len(value), [])


async def test_a_slow_client_loses_progress_but_never_lifecycle_events() -> None:
    sub = Subscription(8, document_id="d", owner="alice")
    sub.put(_item(0, "extraction.started"))
    for offset in range(1, 20):
        sub.put(_item(offset, "extraction.progressed"))
    sub.put(_item(20, "document.completed"))
    received = []
    while (item := await sub.get(wait_s=0.01)) is not None:
        received.append(item)
    types = [i.type for i in received]
    assert types[0] == "extraction.started"
    assert types[-1] == "document.completed"
    assert len(received) <= 9
    offsets = [i.offset for i in received]
    assert offsets == sorted(offsets)
    assert 19 in offsets  # the newest progress survives
    assert not sub.overflowed


async def test_a_queue_full_of_lifecycle_events_overflows_instead_of_dropping_one() -> None:
    sub = Subscription(8, document_id=None, owner="alice")
    for offset in range(9):
        sub.put(_item(offset, "document.accepted"))
    assert sub.overflowed
    assert await sub.get(wait_s=0.01) is None


async def test_the_hub_hands_out_positions_that_join_the_live_stream() -> None:
    hub = Hub(recent_documents=100)
    hub.start_at({0: 10, 1: 3})
    await hub.on_record(_record(10, "d1", "alice"))
    sub, positions = hub.subscribe_owner("alice", 16)
    assert positions == {0: 11, 1: 3}  # offset 10 went out before: it is the backfill's
    await hub.on_record(_record(3, "d2", "alice", partition=1))
    await hub.on_record(_record(11, "d3", "bob"))
    item = await sub.get(wait_s=0.1)
    assert item is not None and (item.partition, item.offset) == (1, 3)
    assert await sub.get(wait_s=0.01) is None  # bob's document is not alice's
    hub.unsubscribe(sub)
    await hub.on_record(_record(12, "d4", "alice"))
    assert await sub.get(wait_s=0.01) is None


async def test_a_watcher_learns_the_owner_the_moment_the_first_event_arrives() -> None:
    hub = Hub(recent_documents=100)
    waiter = asyncio.create_task(hub.wait_for_owner("d", wait_s=5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await hub.on_record(_record(7, "d", "alice"))
    assert await waiter == "alice"
    assert loop.time() - started < 0.05
    assert await hub.wait_for_owner("unknown", wait_s=0.05) is None


async def test_a_watcher_that_gives_up_does_not_blind_the_others() -> None:
    hub = Hub(recent_documents=100)
    impatient = asyncio.create_task(hub.wait_for_owner("d", wait_s=0.05))
    patient = asyncio.create_task(hub.wait_for_owner("d", wait_s=5))
    assert await impatient is None  # timed out before the document arrived
    await hub.on_record(_record(1, "d", "alice"))
    assert await asyncio.wait_for(patient, 1) == "alice"


async def test_the_recent_window_adds_nothing_for_the_garbage_collector_to_walk() -> None:
    """Events kept for late watchers must not be GC-tracked objects: at thousands of events a
    second they filled the oldest generation, and each full collection stalled every client."""
    import gc

    hub = Hub(recent_documents=1_000)
    gc.collect()
    before = len(gc.get_objects())
    for offset in range(20_000):
        await hub.on_record(_record(offset, f"doc{offset % 500}", "alice"))
    gc.collect()
    grown = len(gc.get_objects()) - before
    # 500 documents' deques (and their key strings' dict slots), not 20,000 events.
    assert grown < 2_000
    kept = hub.recent("doc7")
    assert [e.offset for e in kept] == list(range(7, 20_000, 500))[-64:]
    assert kept[0].owner == "alice" and hub.owner_of("doc7") == "alice"
