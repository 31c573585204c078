"""A long PDF read by several workers at once (page ranges, merged in page order).

The split result must be the unsplit one, field for field; progress stays per page and
monotonic; a cancel or a failure in any part stops every part. Parts are made to fail with the
workers' test-only part hook (testhooks.PART_ENV_VAR), switched on for those pools only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from services.extractor.extraction import (
    ExtractionCancelled,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
    ExtractorPool,
)
from services.extractor.extraction.testhooks import ENV_VAR, PART_ENV_VAR
from shared.reasons import ReasonCode

from .extraction_samples import HEALTHY_DOC, HEALTHY_PHRASE, assert_serves, pdf_bytes

LONG = "chelsea_pdta.pdf"  # 65 pages, French (corpus README)


def same(a: ExtractionResult, b: ExtractionResult) -> bool:
    """Equal in everything but the time it took."""
    return dataclasses.replace(a, took_ms=0.0) == dataclasses.replace(b, took_ms=0.0)


@pytest.fixture(scope="module")
async def pools() -> AsyncIterator[tuple[ExtractorPool, ExtractorPool]]:
    """(never splits, splits from 2 pages on): same size, tables on, so everything a result
    holds is compared."""
    whole = ExtractorPool(workers=2, split_pages=0)
    split = ExtractorPool(workers=2, split_pages=2)
    await asyncio.gather(whole.start(), split.start())
    yield whole, split
    await asyncio.gather(whole.close(), split.close())


@pytest.mark.parametrize(
    ("name", "password", "phrase"),
    [
        (LONG, None, "Plan directeur de transport actif"),
        ("federal-register-2020-17221.pdf", None, "FEDERAL REGISTER"),
        # OCR fallback pages, one turned sideways, one huge image (corpus README).
        ("multipage.pdf", None, "throne of England"),
        ("password-example.pdf", "test", "Backup4all"),
    ],
)
async def test_a_split_pdf_gives_the_unsplit_result(
    pools: tuple[ExtractorPool, ExtractorPool],
    corpus: Path,
    name: str,
    password: str | None,
    phrase: str,
) -> None:
    whole, split = pools
    path = corpus / "pdf" / name
    expected = await whole.extract("whole", path, password=password)
    before = split.split_documents
    got = await split.extract("split", path, password=password)
    assert split.split_documents == before + 1  # it really was read in two parts
    assert whole.split_documents == 0
    assert phrase in got.text
    assert same(got, expected)


async def test_the_language_of_a_first_part_with_little_text(
    pools: tuple[ExtractorPool, ExtractorPool], tmp_path: Path
) -> None:
    # Too little text in the first part to fill language detection's sample: the pool
    # detects it from all the parts' pages, as one worker would have.
    line = "Le conseil municipal adopte le plan de transport pour la ville"
    path = tmp_path / "short-pages.pdf"
    path.write_bytes(pdf_bytes([f"{line} {n}" for n in range(40)]))
    whole, split = pools
    expected = await whole.extract("whole", path)
    got = await split.extract("split", path)
    assert expected.language == "fr"
    assert same(got, expected)


async def test_the_character_limit_holds_for_the_parts_together(
    tmp_path: Path,
) -> None:
    # Each part stays under the limit; only together are they over it.
    path = tmp_path / "long-text.pdf"
    path.write_bytes(pdf_bytes(["x" * 90] * 8))
    limits = ExtractionLimits(max_chars=600)
    async with (
        ExtractorPool(workers=2, limits=limits, split_pages=0) as whole,
        ExtractorPool(workers=2, limits=limits, split_pages=2) as split,
    ):
        with pytest.raises(ExtractionError) as unsplit_error:
            await whole.extract("whole", path)
        with pytest.raises(ExtractionError) as split_error:
            await split.extract("split", path)
        assert split.split_documents == 1
    assert split_error.value.reason is ReasonCode.TOO_LARGE
    assert unsplit_error.value.message.endswith("(limit reached on page 7).")
    # Which part passes the limit first, and on which of its pages, depends on timing: a split
    # document's message names no page (it named page 7 or 8 from run to run).
    assert split_error.value.message == "The text is longer than 600 characters."


async def test_progress_is_per_page_and_monotonic(
    pools: tuple[ExtractorPool, ExtractorPool], corpus: Path
) -> None:
    _, split = pools
    seen: list[tuple[int, int]] = []
    result = await split.extract(
        "progress", corpus / "pdf" / LONG, on_progress=lambda d, t: seen.append((d, t))
    )
    assert len(result.pages) == 65
    # Pages done in all parts together: one more at each page, never past the total.
    assert seen == [(done, 65) for done in range(1, 66)]


async def test_no_split_with_one_worker_or_a_short_pdf(corpus: Path) -> None:
    async with ExtractorPool(workers=1, tables=False, split_pages=2) as alone:
        await alone.extract("alone", corpus / "pdf" / LONG)
        assert alone.split_documents == 0
    async with ExtractorPool(workers=2, tables=False) as pool:  # split_pages: 16 by default
        await pool.extract("short", corpus / "pdf" / "federal-register-2020-17221.pdf")
        assert pool.split_documents == 0
        await pool.extract("long", corpus / "pdf" / LONG)
        assert pool.split_documents == 1


async def test_a_document_that_waits_gets_an_added_worker_back(tmp_path: Path) -> None:
    # Pages of even cost (the corpus's long PDF has its tables in one block, so which worker
    # ends its range first was up to timing): the added worker ends its first range while the
    # first worker still has most of the document before it, and a one-page document that
    # waits meanwhile gets the added worker, long before the long one is done.
    path = tmp_path / "even.pdf"
    path.write_bytes(pdf_bytes([f"page {n} " + "words of text " * 40 for n in range(3000)]))
    async with ExtractorPool(workers=2, tables=False) as pool:
        long = asyncio.create_task(pool.extract("long", path))
        await until(lambda: pool.split_documents == 1)
        long_running: list[bool] = []
        short = await pool.extract(
            "short", HEALTHY_DOC, on_progress=lambda d, t: long_running.append(not long.done())
        )
        assert HEALTHY_PHRASE in short.text
        assert long_running and long_running[0]  # served while the long one still ran
        assert len((await long).pages) == 3000


# --- a part that fails, hangs or crashes ---


@contextmanager
def part_hook(action: str) -> Iterator[None]:
    """Every part but the first runs ``action`` (workers spawned meanwhile inherit it)."""
    saved = {name: os.environ.get(name) for name in (ENV_VAR, PART_ENV_VAR)}
    os.environ[ENV_VAR], os.environ[PART_ENV_VAR] = "1", action
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@asynccontextmanager
async def hooked_pool(action: str, limits: ExtractionLimits) -> AsyncIterator[ExtractorPool]:
    with part_hook(action):
        async with ExtractorPool(workers=2, limits=limits, tables=False) as pool:
            yield pool


def pids(pool: ExtractorPool) -> set[int]:
    return {worker.pid for worker in pool._workers}


async def until(condition: object, timeout_s: float = 10.0) -> None:
    assert callable(condition)
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


def all_gone(gone: set[int]) -> bool:
    return not any(psutil.pid_exists(pid) for pid in gone)


async def test_cancelling_a_split_document_kills_every_part(corpus: Path) -> None:
    async with hooked_pool("sleep 60", ExtractionLimits()) as pool:
        both = pids(pool)
        job = asyncio.create_task(pool.extract("doomed", corpus / "pdf" / LONG))
        await until(lambda: pool.split_documents == 1)
        assert await pool.cancel("doomed") is True
        with pytest.raises(ExtractionCancelled):
            await job
        await until(lambda: all_gone(both))  # the hanging later part too
        await until(lambda: len(pool._workers) == 2 and not pool._dying)
        await assert_serves(pool)


async def test_a_crashing_part_fails_the_document_with_its_reason(corpus: Path) -> None:
    async with hooked_pool("crash", ExtractionLimits()) as pool:
        both = pids(pool)
        with pytest.raises(ExtractionError) as caught:
            await pool.extract("crash", corpus / "pdf" / LONG)
        assert pool.split_documents == 1
        assert caught.value.reason is ReasonCode.CORRUPT
        assert "SIGABRT" in caught.value.message
        await until(lambda: all_gone(both) or not (both & pids(pool)))
        await until(lambda: len(pool._workers) == 2 and not pool._dying)
        await assert_serves(pool)


async def test_a_hanging_part_runs_into_the_document_time_limit(corpus: Path) -> None:
    limits = ExtractionLimits(timeout_s=3.0)
    async with hooked_pool("sleep 60", limits) as pool:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ExtractionError) as caught:
            await pool.extract("slow", corpus / "pdf" / LONG)
        elapsed = asyncio.get_running_loop().time() - started
        assert caught.value.reason is ReasonCode.TIMEOUT
        assert elapsed < 10
        await until(lambda: len(pool._workers) == 2 and not pool._dying)
        await assert_serves(pool)


async def test_a_part_over_the_memory_limit_fails_the_document(corpus: Path) -> None:
    limits = ExtractionLimits(memory_mb=300)
    async with hooked_pool("allocate 1000", limits) as pool:
        with pytest.raises(ExtractionError) as caught:
            await pool.extract("hog", corpus / "pdf" / LONG)
        assert pool.split_documents == 1
        assert caught.value.reason is ReasonCode.MEMORY_LIMIT
        await until(lambda: len(pool._workers) == 2 and not pool._dying)
        await assert_serves(pool)
