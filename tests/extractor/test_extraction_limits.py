"""Time, memory and size limits: each has its own reason, a killed worker is replaced, and the
pool keeps serving. Sleep / allocation / crash are the workers' test-only hooks (testhooks.py),
switched on for this module's pool only."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from services.extractor.extraction import (
    ExtractionCancelled,
    ExtractionError,
    ExtractionLimits,
    ExtractorPool,
)
from services.extractor.extraction.testhooks import ENV_VAR, MAGIC
from shared.reasons import ReasonCode

from .extraction_samples import assert_serves

Write = Callable[[str, bytes | str], Path]
LIMITS = ExtractionLimits(timeout_s=2.0, memory_mb=300, max_chars=10_000, max_file_bytes=2**21)


@pytest.fixture(scope="module")
async def limited() -> AsyncIterator[ExtractorPool]:
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "1"  # inherited by this pool's workers, and their replacements
    pool = ExtractorPool(workers=2, limits=LIMITS)
    try:
        await pool.start()
        yield pool
    finally:
        await pool.close()
        if previous is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = previous


@pytest.fixture
def hook(write: Write, limited: ExtractorPool) -> Callable[[str], Path]:
    """A file that triggers a hook (``limited`` first, so the hooks are switched on)."""

    def _hook(action: str) -> Path:
        return write(f"hook-{action.replace(' ', '-')}.txt", MAGIC + action.encode())

    return _hook


def worker_pids() -> set[int]:
    return {child.pid for child in psutil.Process().children()}


async def settled_pids(pool: ExtractorPool) -> set[int]:
    """The pool's worker pids once it is back to full strength (replacements run async)."""
    for _ in range(100):
        if len(pool._workers) == pool.size and not pool._dying:
            break
        await asyncio.sleep(0.05)
    return {worker.pid for worker in pool._workers}


def killed(pids: set[int]) -> bool:
    return bool(pids) and not any(psutil.pid_exists(pid) for pid in pids)


async def failure(pool: ExtractorPool, job_id: str, path: Path) -> tuple[ExtractionError, float]:
    started = time.monotonic()
    with pytest.raises(ExtractionError) as caught:
        await pool.extract(job_id, path)
    return caught.value, time.monotonic() - started


async def test_timeout_kills_the_worker(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    before = await settled_pids(limited)
    error, took = await failure(limited, "sleepy", hook("sleep 30"))
    assert error.reason is ReasonCode.TIMEOUT
    assert "2 s" in error.message
    assert LIMITS.timeout_s <= took < LIMITS.timeout_s + 1.5
    await assert_serves(limited, "after-timeout")
    assert killed(before - await settled_pids(limited)), "the stuck worker is still alive"


async def test_fast_allocation_hits_the_address_space_cap(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    error, _ = await failure(limited, "hog", hook("allocate 2048"))
    assert error.reason is ReasonCode.MEMORY_LIMIT
    assert "needs more memory" in error.message  # reported by the worker itself, then it exits
    await assert_serves(limited, "after-hog")


async def test_slow_growth_is_stopped_by_the_watchdog(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    error, took = await failure(limited, "grower", hook("grow 1024"))
    assert error.reason is ReasonCode.MEMORY_LIMIT
    assert "more than 300 MB" in error.message  # the parent's RSS watchdog killed it
    assert took < LIMITS.timeout_s
    await assert_serves(limited, "after-grower")


async def test_a_crashing_reader_is_reported_and_replaced(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    error, _ = await failure(limited, "crash", hook("crash"))
    assert error.reason is ReasonCode.CORRUPT
    assert "crashed" in error.message and "SIGABRT" in error.message
    await assert_serves(limited, "after-crash")


async def test_too_many_characters(limited: ExtractorPool, write: Write) -> None:
    error, _ = await failure(limited, "chars", write("long.txt", "word " * 4_000))
    assert error.reason is ReasonCode.TOO_LARGE
    assert "10000 characters" in error.message
    await assert_serves(limited, "after-chars")


async def test_too_many_bytes(limited: ExtractorPool, write: Write) -> None:
    error, _ = await failure(limited, "bytes", write("big.txt", "x" * (2**21 + 1)))
    assert error.reason is ReasonCode.TOO_LARGE
    assert str(2**21) in error.message
    await assert_serves(limited, "after-bytes")


async def test_cancel_a_running_extraction(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    job = asyncio.create_task(limited.extract("to-cancel", hook("sleep 30")))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    assert await limited.cancel("to-cancel") is True
    with pytest.raises(ExtractionCancelled):
        await job
    assert time.monotonic() - started < 1.0
    await assert_serves(limited, "after-cancel")


async def test_cancel_a_queued_extraction(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    busy = [
        asyncio.create_task(limited.extract(f"busy-{n}", hook(f"sleep {25 + n}"))) for n in range(2)
    ]
    await asyncio.sleep(0.2)
    queued = asyncio.create_task(limited.extract("queued", hook("sleep 20")))
    await asyncio.sleep(0.1)
    assert not queued.done()
    assert await limited.cancel("queued") is True
    with pytest.raises(ExtractionCancelled):
        await queued
    assert not any(task.done() for task in busy)  # cancelling one job left the others alone
    for n in range(2):
        assert await limited.cancel(f"busy-{n}")
    for task in busy:
        with pytest.raises(ExtractionCancelled):
            await task
    await assert_serves(limited, "after-queue-cancel")


async def test_cancel_unknown_job(limited: ExtractorPool) -> None:
    assert await limited.cancel("never-submitted") is False


async def test_cancelled_caller_task_stops_the_worker(
    limited: ExtractorPool, hook: Callable[[str], Path]
) -> None:
    before = await settled_pids(limited)
    job = asyncio.create_task(limited.extract("abandoned", hook("sleep 30")))
    await asyncio.sleep(0.3)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    await assert_serves(limited, "after-abandon")
    assert killed(before - await settled_pids(limited)), "the abandoned extraction still runs"


async def test_close_leaves_no_process_behind(hook: Callable[[str], Path]) -> None:
    pool = ExtractorPool(workers=2, limits=LIMITS)
    await pool.start()
    # The pool's own workers (other tests' pools may still be reaping or replacing theirs).
    mine = {worker.pid for worker in pool._workers}
    assert len(mine) == 2 and mine <= worker_pids()
    job = asyncio.create_task(pool.extract("during-close", hook("sleep 30")))
    await asyncio.sleep(0.3)
    await pool.close()
    with pytest.raises(ExtractionCancelled):
        await job
    assert not any(psutil.pid_exists(pid) for pid in mine)
    with pytest.raises(ExtractionCancelled):
        await pool.extract("after-close", hook("sleep 1"))
