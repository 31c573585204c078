"""Timers for a service's own event loop (what faust's ``app.timer`` gave its agents).

:func:`every` runs a coroutine function every ``interval_s`` seconds, the first time one interval
after it starts, like faust's timers. A body that raises is logged and the timer keeps going (a
timer that died quietly would leave the service looking healthy while it no longer sweeps); a
body slower than the interval delays the next run instead of overlapping it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def every(
    interval_s: float,
    body: Callable[[], Awaitable[None]],
    *,
    name: str,
    first_after_s: float | None = None,
) -> asyncio.Task[None]:
    """A task running ``body`` every ``interval_s`` seconds until cancelled; the first time
    after ``first_after_s`` (default: one interval)."""
    if interval_s <= 0:
        raise ValueError("a timer's interval must be positive")
    first = interval_s if first_after_s is None else first_after_s
    return asyncio.create_task(_repeat(interval_s, body, name, first), name=f"timer:{name}")


async def _repeat(
    interval_s: float, body: Callable[[], Awaitable[None]], name: str, first_after_s: float
) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time() + first_after_s
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer failed; it runs again at its next interval", extra={"timer": name})
        # At a steady rate; a late run (a slow body, a busy loop) is not made up for.
        due = max(due + interval_s, loop.time())


async def cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Stop the timers and wait until they did."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
