from __future__ import annotations

import asyncio
from typing import Any

from services.gateway.websocket import StuckSends


class _Conn:
    def __init__(self) -> None:
        self.sending_since: float | None = None
        self.too_slow = False


async def test_only_a_send_stuck_past_the_timeout_stops_its_writer() -> None:
    stuck = StuckSends(timeout_s=10.0)
    stuck_conn, busy_conn, idle_conn = _Conn(), _Conn(), _Conn()
    stuck_conn.sending_since = 100.0  # waiting on a full socket since t=100
    busy_conn.sending_since = 105.0  # a send under way, not yet too long
    writers = {
        c: asyncio.create_task(asyncio.sleep(60)) for c in (stuck_conn, busy_conn, idle_conn)
    }
    conn: Any
    for conn, writer in writers.items():
        stuck.watch(conn, writer)
    assert stuck.sweep(now=111.0) == 1
    await asyncio.sleep(0)
    assert writers[stuck_conn].cancelled() and stuck_conn.too_slow
    assert not writers[busy_conn].done() and not busy_conn.too_slow
    assert not writers[idle_conn].done()
    assert stuck.sweep(now=112.0) == 0  # told once
    stuck.forget(busy_conn)
    assert stuck.sweep(now=200.0) == 0  # forgotten: no longer watched
    for writer in writers.values():
        writer.cancel()
