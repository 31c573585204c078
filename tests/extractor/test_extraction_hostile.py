"""Hostile inputs under the default limits: each ends with a clear reason (or a result), fast,
and the pool serves an ordinary document right after."""

from __future__ import annotations

import asyncio
import os
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from services.extractor.extraction import ExtractionError, ExtractorPool
from shared.reasons import ReasonCode

from .extraction_samples import assert_serves, many_pages_pdf, zip_bomb_docx

Write = Callable[[str, bytes | str], Path]


@asynccontextmanager
async def loop_watch(max_gap_s: float) -> AsyncIterator[None]:
    """Fails if the event loop was ever held longer than ``max_gap_s`` inside the block."""
    gaps: list[float] = []

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - before - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
    assert gaps, "the loop never ran the ticker"
    assert max(gaps) < max_gap_s, f"event loop blocked for {max(gaps):.3f} s"


async def expect_reason(pool: ExtractorPool, job_id: str, path: Path, reason: ReasonCode) -> str:
    with pytest.raises(ExtractionError) as caught:
        await pool.extract(job_id, path)
    assert caught.value.reason is reason, caught.value.message
    await assert_serves(pool, f"{job_id}-after")
    return caught.value.message


async def test_truncated_pdf_is_corrupt(pool: ExtractorPool, corpus: Path, write: Write) -> None:
    data = (corpus / "pdf" / "federal-register-2020-17221.pdf").read_bytes()
    path = write("truncated.pdf", data[: len(data) * 3 // 10])
    message = await expect_reason(pool, "truncated", path, ReasonCode.CORRUPT)
    assert "pdfium" in message and "pypdf" in message  # both readers were tried


async def test_garbage_behind_a_pdf_header_is_corrupt(pool: ExtractorPool, write: Write) -> None:
    path = write("garbage.pdf", b"%PDF-1.7\n" + os.urandom(200_000))
    await expect_reason(pool, "garbage", path, ReasonCode.CORRUPT)


async def test_random_bytes_named_pdf_are_unsupported(pool: ExtractorPool, write: Write) -> None:
    path = write("random.pdf", os.urandom(100_000))
    message = await expect_reason(pool, "random", path, ReasonCode.UNSUPPORTED_TYPE)
    assert "application/octet-stream" in message


async def test_zip_bomb_docx_is_refused_before_parsing(
    pool: ExtractorPool, corpus: Path, tmp_path: Path
) -> None:
    bomb = zip_bomb_docx(tmp_path / "bomb.docx", corpus / "docx" / "test.docx", inflated_mb=300)
    assert bomb.stat().st_size < 3 * 2**20
    started = time.monotonic()
    message = await expect_reason(pool, "bomb", bomb, ReasonCode.TOO_LARGE)
    assert "inflates to" in message
    assert time.monotonic() - started < 10


async def test_truncated_docx_is_corrupt(pool: ExtractorPool, corpus: Path, write: Write) -> None:
    data = (corpus / "docx" / "test.docx").read_bytes()
    await expect_reason(
        pool, "cut-docx", write("cut.docx", data[: len(data) // 2]), ReasonCode.CORRUPT
    )


async def test_docx_with_broken_xml_is_corrupt(
    pool: ExtractorPool, corpus: Path, tmp_path: Path
) -> None:
    path = tmp_path / "broken.docx"
    with (
        zipfile.ZipFile(corpus / "docx" / "test.docx") as source,
        zipfile.ZipFile(path, "w") as out,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "word/document.xml":
                content = content[: len(content) // 2]  # unclosed elements
            out.writestr(info, content)
    await expect_reason(pool, "broken-xml", path, ReasonCode.CORRUPT)


async def test_ten_thousand_pages_are_refused_before_reading(
    pool: ExtractorPool, write: Write
) -> None:
    path = write("many.pdf", many_pages_pdf(10_000))
    started = time.monotonic()
    message = await expect_reason(pool, "many-pages", path, ReasonCode.TOO_MANY_PAGES)
    assert "10000 pages" in message and "5000" in message
    assert time.monotonic() - started < 10


async def test_fifty_megabytes_of_nested_html(pool: ExtractorPool, tmp_path: Path) -> None:
    depth = 4_500_000
    path = tmp_path / "nested.html"
    with path.open("w") as out:
        out.write("<html><body>" + "<div>" * depth + "deep text")
        out.write("</div>" * depth + "<p>after the nesting</p></body></html>")
    assert path.stat().st_size > 49 * 10**6
    started = time.monotonic()
    async with loop_watch(max_gap_s=0.5):
        result = await pool.extract("nested-html", path)
    assert result.detected_type == "text/html"
    assert result.text == "deep text\nafter the nesting"
    assert time.monotonic() - started < pool.limits.timeout_s
    await assert_serves(pool, "nested-html-after")


async def test_big_text_arrives_whole_without_blocking_the_loop(
    pool: ExtractorPool, write: Write
) -> None:
    line = "A long line of plain text that repeats itself for a while. " * 4 + "\n"
    text = line * (15_000_000 // len(line))  # ~15 MB: split into many frames on the way
    async with loop_watch(max_gap_s=0.5):
        result = await pool.extract("big-text", write("big.txt", text))
    assert result.text == text
    assert result.chars == len(result.text)
