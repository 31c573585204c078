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
