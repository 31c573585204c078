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


async def test_the_last_page_waits_for_the_completion_batch() -> None:
    """A one-page document completes within the grace: its page is not sent on its own."""
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.25, last_page_grace_s=0.2)
    reporter.update(1, 1)
    await asyncio.sleep(0.02)  # the completion comes a moment after the last page
    await reporter.stop()
    assert sent == []
    assert not reporter.already_sent(1, 1)  # so the caller's completion batch sends it


async def test_a_page_whose_total_grows_with_it_is_still_sent_after_the_grace() -> None:
    """Formats that learn their page count as they go report done == total every time."""
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.01, last_page_grace_s=0.02)
    reporter.update(1, 1)
    await asyncio.sleep(0.1)
    reporter.update(2, 2)
    await asyncio.sleep(0.1)
    await reporter.stop()
    assert sent == [(1, 1), (2, 2)]


async def test_pages_before_the_last_are_not_held_past_the_interval() -> None:
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.1, last_page_grace_s=5.0)
    reporter.update(1, 3)
    await asyncio.sleep(0.15)
    await reporter.stop()
    assert sent == [(1, 3)]


async def test_the_first_event_waits_one_interval_from_the_start() -> None:
    """A document read within the first interval sends no progress of its own; a longer one
    sends the page it reached when the interval is over."""
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.2)
    reporter.update(1, 3)
    await asyncio.sleep(0.05)
    reporter.update(2, 3)
    await asyncio.sleep(0.05)
    assert sent == []  # within the first interval
    await asyncio.sleep(0.15)
    assert sent == [(2, 3)]
    await reporter.stop()


async def test_stop_lets_a_send_under_way_finish() -> None:
    """What the emit callback took to send with the progress (a held start) must not be lost
    to a stop that comes while it is being sent."""
    sent: list[tuple[int, int]] = []

    async def emit(done: int, total: int) -> None:
        await asyncio.sleep(0.1)  # the broker's acknowledgement
        sent.append((done, total))

    reporter = ProgressReporter(emit, interval_s=0.01)
    reporter.update(1, 3)
    await asyncio.sleep(0.02)  # its send is under way
    await reporter.stop()
    assert sent == [(1, 3)] and reporter.already_sent(1, 3)
