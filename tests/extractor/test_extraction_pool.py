"""The pool's life cycle: sizing, start and close, job ids, and hooks staying test-only."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from services.extractor.extraction import ExtractionCancelled, ExtractionLimits, ExtractorPool
from services.extractor.extraction.testhooks import ENV_VAR, MAGIC

from .extraction_samples import HEALTHY_DOC, HEALTHY_PHRASE


def child_pids() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


def test_default_size_is_one_worker_per_core() -> None:
    assert ExtractorPool().size == os.cpu_count()
    with pytest.raises(ValueError, match="at least one worker"):
        ExtractorPool(workers=0)
    with pytest.raises(ValueError, match="memory_mb must be positive"):
        ExtractionLimits(memory_mb=0)


async def test_close_while_starting_cancels_the_waiting_job() -> None:
    before = child_pids()
    pool = ExtractorPool(workers=2)
    job = asyncio.create_task(pool.extract("early", HEALTHY_DOC))
    await asyncio.sleep(0.2)  # workers take about a second to warm up
    await pool.close()
    with pytest.raises(ExtractionCancelled):
        await job
    assert not child_pids() - before


async def test_the_same_job_id_twice(pool: ExtractorPool, corpus: Path) -> None:
    # A redelivered document can be in flight twice: both run, and a cancel stops both.
    path = corpus / "pdf" / "chelsea_pdta.pdf"
    first, second = (asyncio.create_task(pool.extract("twice", path)) for _ in range(2))
    results = await asyncio.gather(first, second)
    assert [len(result.pages) for result in results] == [65, 65]
    again = [asyncio.create_task(pool.extract("twice", path)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert await pool.cancel("twice") is True
    for task in again:
        with pytest.raises(ExtractionCancelled):
            await task
    assert await pool.cancel("twice") is False  # nothing left under that id


async def test_lazy_start_context_manager_and_inert_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    hook = tmp_path / "hook.txt"
    hook.write_bytes(MAGIC + b"crash")
    before = child_pids()
    async with ExtractorPool(workers=1) as pool:
        result = await pool.extract("first", HEALTHY_DOC)  # no explicit start() needed
        assert HEALTHY_PHRASE in result.text
        assert len(child_pids() - before) == 1
        # Without the variable a hook file is just text: the hooks cannot fire in production.
        assert (await pool.extract("inert", hook)).text == "DOCSTREAM-TEST-HOOK crash"
    assert not child_pids() - before


async def test_on_start_is_called_when_a_worker_takes_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document waiting behind another for the only worker starts (extraction.started, the
    progress clock) when the worker takes it, not when it was handed to the pool."""
    monkeypatch.setenv(ENV_VAR, "1")
    slow = tmp_path / "slow.txt"
    slow.write_bytes(MAGIC + b"sleep 0.5")
    loop = asyncio.get_running_loop()
    started: dict[str, float] = {}
    async with ExtractorPool(workers=1) as pool:
        asked = loop.time()
        first = asyncio.create_task(
            pool.extract("first", slow, on_start=lambda: started.setdefault("first", loop.time()))
        )
        second = asyncio.create_task(
            pool.extract(
                "second", HEALTHY_DOC, on_start=lambda: started.setdefault("second", loop.time())
            )
        )
        await asyncio.gather(first, second)
    assert started["first"] - asked < 0.3
    assert started["second"] - asked >= 0.5  # after the first one's half second
