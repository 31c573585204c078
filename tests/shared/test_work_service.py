"""A work stage's service (shared/work_service.py) on the real Kafka: what it started is
stopped when a later part fails to start, and a record whose handling raises is handled again,
never skipped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from shared.settings import ServiceSettings
from shared.work_service import Resources, create_app, handle_until_done
from tests.consumer_service import isolated


async def test_the_parts_that_started_are_stopped_when_a_later_one_fails(
    kafka_bootstrap: str, mongo_url: str
) -> None:
    settings = ServiceSettings(**isolated("stage", kafka_bootstrap, mongo_url))
    calls: list[str] = []
    resources = Resources()

    def hook(name: str, *, fails: bool = False) -> Any:
        async def run() -> None:
            calls.append(name)
            if fails:
                raise RuntimeError(f"{name} cannot start")

        return run

    resources.add(hook("producer started"), hook("producer stopped"))
    resources.add(hook("pool started", fails=True), hook("pool stopped"))
    resources.add(hook("cancels started"), hook("cancels stopped"))

    async def handle(key: bytes | None, value: bytes, partition: int, offset: int) -> None:
        raise AssertionError("no record is taken")

    app = create_app(
        "stage", settings, resources, topic=settings.topics.uploaded, handle=handle, concurrency=1
    )
    with pytest.raises(RuntimeError, match="pool started cannot start"):
        async with app.router.lifespan_context(app):
            pass
    assert calls == ["producer started", "pool started", "producer stopped"]


async def test_a_stray_cancellation_from_one_part_still_stops_the_others() -> None:
    """aiokafka's consumer.stop() raises CancelledError when the broker is gone (a killed
    launcher takes Kafka with it): the parts started before it (the analyzer's process pool)
    are stopped all the same."""
    calls: list[str] = []
    resources = Resources()

    def hook(name: str, *, cancelled: bool = False) -> Any:
        async def run() -> None:
            calls.append(name)
            if cancelled:
                raise asyncio.CancelledError

        return run

    resources.add(hook("producer started"), hook("producer stopped"))
    resources.add(hook("pool started"), hook("pool stopped"))
    resources.add(hook("cancels started"), hook("cancels stopped", cancelled=True))
    await resources.start()
    await resources.stop()
    assert calls[3:] == ["cancels stopped", "pool stopped", "producer stopped"]


async def test_a_record_whose_handling_raises_is_handled_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asyncio, "sleep", _no_wait)
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        "documents.uploaded", 2, 41, 0, 0, b"doc-1", b"{}", None, 5, 2, []
    )
    attempts: list[tuple[bytes | None, int, int]] = []

    async def handle(key: bytes | None, value: bytes, partition: int, offset: int) -> None:
        attempts.append((key, partition, offset))
        if len(attempts) < 3:
            raise ConnectionError("the broker is away")

    await handle_until_done(record, handle)
    assert attempts == [(b"doc-1", 2, 41)] * 3


_real_sleep = asyncio.sleep


async def _no_wait(delay: float, result: Any = None) -> Any:
    return await _real_sleep(0, result)
