"""The extractor's progress throttle: bounded events for huge documents, in order."""

from __future__ import annotations

import asyncio

from services.extractor.progress import ProgressReporter


async def test_a_thousand_pages_make_a_handful_of_events_in_order() -> None:
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.05)
    for page in range(1, 1001):
        reporter.update(page, 1000)
        if page % 100 == 0:
            await asyncio.sleep(0.01)  # pages arrive over ~0.1 s
    await reporter.stop()
    assert 1 <= len(sent) <= 5
    assert [d for d, _ in sent] == sorted(d for d, _ in sent)
    assert reporter.already_sent(*sent[-1])
    assert not reporter.already_sent(1000, 1000) or sent[-1] == (1000, 1000)


async def test_nothing_is_sent_without_updates() -> None:
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.01)
    await reporter.stop()
    assert sent == []
    assert not reporter.already_sent(1, 1)
