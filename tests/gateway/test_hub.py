from __future__ import annotations

from services.gateway.hub import LiveEvent, Subscription


def _item(offset: int, type_: str) -> LiveEvent:
    return LiveEvent("d", "alice", type_, 1, 0, offset, {"type": type_})


async def test_a_slow_client_loses_progress_but_never_lifecycle_events() -> None:
    sub = Subscription("d", "alice", maxsize=8)
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


async def test_a_watcher_learns_the_owner_the_moment_the_first_event_arrives() -> None:
    import asyncio
    import json

    from aiokafka import ConsumerRecord

    from services.gateway.hub import Hub

    hub = Hub(recent_documents=100)
    waiter = asyncio.create_task(hub.wait_for_owner("d", wait_s=5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    value = json.dumps({"subject": "d", "owner": "alice", "type": "document.accepted"}).encode()
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        "t", 0, 7, 0, 0, b"d", value, None, len(b"d"), len(value), []
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    await hub.on_record(record)
    assert await waiter == "alice"
    assert loop.time() - started < 0.05
    assert await hub.wait_for_owner("unknown", wait_s=0.05) is None


async def test_a_watcher_that_gives_up_does_not_blind_the_others() -> None:
    import asyncio
    import json

    from aiokafka import ConsumerRecord

    from services.gateway.hub import Hub

    hub = Hub(recent_documents=100)
    impatient = asyncio.create_task(hub.wait_for_owner("d", wait_s=0.05))
    patient = asyncio.create_task(hub.wait_for_owner("d", wait_s=5))
    assert await impatient is None  # timed out before the document arrived
    value = json.dumps({"subject": "d", "owner": "alice", "type": "document.accepted"}).encode()
    record = ConsumerRecord("t", 0, 1, 0, 0, b"d", value, None, len(b"d"), len(value), [])
    await hub.on_record(record)
    assert await asyncio.wait_for(patient, 1) == "alice"
