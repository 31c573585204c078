"""Per-page progress, throttled so a 1,000-page file cannot flood the events topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Emit = Callable[[int, int], Awaitable[None]]


#: How long an update that may be the last page waits before it is sent on its own.
LAST_PAGE_GRACE_S = 0.05


class ProgressReporter:
    """Takes updates synchronously (from the pool's callback) and emits at most one event per
    ``interval_s``, in order, from a single task. The caller sends the final one itself, in
    the batch with ``extraction.completed``.

    An update with ``done == total`` (the last page, or a format whose total grows with its
    pages) waits ``last_page_grace_s`` first: the document usually completes within it, and
    then the completion batch carries it. Sent on its own it put one more acknowledged round
    trip before every document's completion (an idempotent producer keeps one request in
    flight per partition, so the completion batch waited for it).

    The first event, too, comes at most once per ``interval_s``: one interval after
    :meth:`begin` (when a worker took the document; else when the reporter was made), not at
    the first page. A document read within that interval sends its progress only in its
    completion batch, and a longer one its first progress a moment later, together with the
    stage's held start: a request, and a fetch for every live reader, fewer a document (it was
    a request for page 1 and another for the page reached an interval later)."""

    def __init__(
        self, emit: Emit, *, interval_s: float, last_page_grace_s: float = LAST_PAGE_GRACE_S
    ) -> None:
        self._emit = emit
        self._interval = interval_s
        self._grace = last_page_grace_s
        self._latest: tuple[int, int] | None = None
        self._sent: tuple[int, int] | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._emitting: asyncio.Future[None] | None = None
        self._first_at = asyncio.get_running_loop().time() + interval_s

    def begin(self) -> None:
        """The work starts now (it may have waited for a worker): the first event's interval
        counts from here."""
        self._first_at = asyncio.get_running_loop().time() + self._interval

    def update(self, done: int, total: int) -> None:
        self._latest = (done, total)
        self._changed.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        await asyncio.sleep(max(0.0, self._first_at - asyncio.get_running_loop().time()))
        while True:
            await self._changed.wait()
            if self._latest is not None and self._latest[0] >= self._latest[1]:
                await asyncio.sleep(self._grace)
            self._changed.clear()
            await self._flush()
            await asyncio.sleep(self._interval)

    async def _flush(self) -> None:
        latest = self._latest
        if latest is not None and latest != self._sent:
            self._sent = latest
            # Its own task, shielded: stop() lets a send under way finish (what the emit
            # callback took to send with it, a held start, must not be lost half-way).
            self._emitting = asyncio.ensure_future(self._emit(*latest))
            await asyncio.shield(self._emitting)

    async def stop(self) -> None:
        """No more events from here; the caller sends the final one with its own batch."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._emitting is not None:
            await self._emitting

    def already_sent(self, done: int, total: int) -> bool:
        return self._sent == (done, total)
