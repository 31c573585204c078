"""Per-page progress, throttled so a 1,000-page file cannot flood the events topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Emit = Callable[[int, int], Awaitable[None]]


class ProgressReporter:
    """Takes updates synchronously (from the pool's callback) and emits at most one event per
    ``interval_s``, in order, from a single task; :meth:`finish` always emits the final one."""

    def __init__(self, emit: Emit, *, interval_s: float) -> None:
        self._emit = emit
        self._interval = interval_s
        self._latest: tuple[int, int] | None = None
        self._sent: tuple[int, int] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def update(self, done: int, total: int) -> None:
        self._latest = (done, total)
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._flush()
            await asyncio.sleep(self._interval)

    async def _flush(self) -> None:
        latest = self._latest
        if latest is not None and latest != self._sent:
            self._sent = latest
            await self._emit(*latest)

    async def stop(self) -> None:
        """No more events from here; the caller sends the final one with its own batch."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def already_sent(self, done: int, total: int) -> bool:
        return self._sent == (done, total)
