"""Timers in a service's own loop (shared/periodic.py), what faust's ``app.timer`` was."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared import periodic


async def test_the_first_run_is_one_interval_after_the_start_then_every_interval() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    runs: list[float] = []

    async def body() -> None:
        runs.append(loop.time() - started)

    timer = periodic.every(0.05, body, name="tick")
    await asyncio.sleep(0.23)
    await periodic.cancel([timer])
    assert timer.cancelled()
    assert 3 <= len(runs) <= 5
    assert runs[0] >= 0.045


async def test_the_first_run_may_come_sooner_than_the_interval() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    runs: list[float] = []

    async def body() -> None:
        runs.append(loop.time() - started)

    timer = periodic.every(10.0, body, name="hourly", first_after_s=0.02)
    await asyncio.sleep(0.2)
    await periodic.cancel([timer])
    assert len(runs) == 1  # at 0.02 s; the next one would be 10 s later
    assert runs[0] >= 0.015


async def test_a_body_that_raises_is_logged_and_the_timer_keeps_going(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs = 0

    async def body() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError("database down")

    with caplog.at_level(logging.ERROR, logger="shared.periodic"):
        timer = periodic.every(0.02, body, name="sweep")
        await asyncio.sleep(0.15)
        assert not timer.done()
        await periodic.cancel([timer])
    assert runs >= 3
    assert "timer failed" in caplog.text and "database down" in caplog.text
    assert all(getattr(r, "timer", None) == "sweep" for r in caplog.records)


async def test_a_slow_body_delays_the_next_run_instead_of_overlapping_it() -> None:
    running = 0
    overlapped = False
    runs = 0

    async def body() -> None:
        nonlocal running, overlapped, runs
        running += 1
        overlapped |= running > 1
        runs += 1
        await asyncio.sleep(0.05)
        running -= 1

    timer = periodic.every(0.01, body, name="slow")
    await asyncio.sleep(0.2)
    await periodic.cancel([timer])
    assert not overlapped
    assert 2 <= runs <= 5


async def test_cancelling_stops_a_body_under_way() -> None:
    entered = asyncio.Event()

    async def body() -> None:
        entered.set()
        await asyncio.sleep(60)

    timer = periodic.every(0.01, body, name="long")
    await entered.wait()
    await periodic.cancel([timer])
    assert timer.done()


def test_the_interval_must_be_positive() -> None:
    async def body() -> None:
        pass

    with pytest.raises(ValueError):
        periodic.every(0, body, name="never")
