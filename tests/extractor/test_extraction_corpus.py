"""Every corpus file gives the outcome the corpus README's table asks for."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from pathlib import Path

import pytest

from services.extractor.extraction import (
    ExtractionError,
    ExtractionResult,
    ExtractorPool,
)
from shared.reasons import ReasonCode
from shared.text import count_words

# file -> (pages, phrase, language or None when the README names none)
PDFS = {
    "federal-register-2020-17221.pdf": (15, "FEDERAL REGISTER", "en"),
    "chelsea_pdta.pdf": (65, "Plan directeur de transport actif", "fr"),
    "scotus-transcript-p1.pdf": (1, "Official - Subject to Final", "en"),
    "issue-33-lorem-ipsum.pdf": (2, "Voluptatem", None),
    "senate-expenditures.pdf": (1, "PAYEE NAME", None),
    "table-curves-example.pdf": (1, "very rare", None),
    "nics-background-checks-2015-11-rotated.pdf": (1, "Handgun", None),
    "malformed-from-issue-932.pdf": (1, "2021", None),
}
DOCX_PHRASES = {
    "test.docx": "python-docx was here!",
    "blk-paras-and-tables.docx": "Lorem ipsum dolor sit amet",
    "par-known-paragraphs.docx": "Heading Paragraph",
    "hdr-header-footer.docx": "section with header",
    "comments-rich-para.docx": "Document text",
}
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
async def results(pool: ExtractorPool, corpus: Path) -> dict[str, ExtractionResult]:
    """All readable corpus files, submitted at once as a busy service would."""
    paths = [corpus / "pdf" / name for name in PDFS] + sorted((corpus / "docx").glob("*.docx"))
    done = await asyncio.gather(*(pool.extract(f"corpus-{p.name}", p) for p in paths))
    return {path.name: result for path, result in zip(paths, done, strict=True)}


@pytest.mark.parametrize("name", sorted(PDFS))
def test_pdf_outcome(results: dict[str, ExtractionResult], name: str) -> None:
    pages, phrase, language = PDFS[name]
    result = results[name]
    assert result.detected_type == "application/pdf"
    assert len(result.pages) == pages
    assert [page.number for page in result.pages] == list(range(1, pages + 1))
    assert phrase in result.text
    if language is not None:
        assert result.language == language


@pytest.mark.parametrize("name", sorted(PDFS))
def test_counts_and_metadata_agree_with_the_text(
    results: dict[str, ExtractionResult], name: str
) -> None:
    result = results[name]
    assert result.chars == len(result.text)
    assert result.words == count_words(result.text)
    meta = result.metadata()
    assert (meta.pages, meta.chars, meta.words) == (len(result.pages), result.chars, result.words)
    assert meta.empty_pages == [page.number for page in result.pages if page.empty]
    assert "\r" not in result.text and "\ufffe" not in result.text  # pdfium's markers are gone


def test_pdfium_is_the_fast_path_and_reports_metadata(results: dict[str, ExtractionResult]) -> None:
    assert {results[name].extractor for name in PDFS} == {"pypdfium2"}
    scotus = results["scotus-transcript-p1.pdf"]
    assert (scotus.title, scotus.author) == ("10811.exe", "Supreme")
    chelsea = results["chelsea_pdta.pdf"]
    assert chelsea.author == "office-2007"
    assert results["federal-register-2020-17221.pdf"].title is None  # empty in the file


def test_text_pdfs_stay_on_the_fast_path_page_for_page(
    results: dict[str, ExtractionResult],
) -> None:
    """The quality check trusts every page of the corpus's text PDFs: none is read again."""
    for name in PDFS:
        result = results[name]
        assert set(result.page_extractors()) == {"pypdfium2"}, name
        assert [page.warnings for page in result.pages if page.warnings] == [], name
        assert all(page.ocr_confidence is None for page in result.pages), name


def test_tables_are_off_on_the_text_path(results: dict[str, ExtractionResult]) -> None:
    assert all(not results[name].tables for name in PDFS)


@pytest.mark.parametrize("name", sorted(DOCX_PHRASES))
def test_docx_outcome(results: dict[str, ExtractionResult], name: str) -> None:
    result = results[name]
    assert result.detected_type == DOCX_MIME
    assert result.extractor == "python-docx"
    assert len(result.pages) == 1
    assert DOCX_PHRASES[name] in result.text


def test_docx_keeps_reading_order_headers_and_footers(
    results: dict[str, ExtractionResult],
) -> None:
    text = results["hdr-header-footer.docx"].text
    header, body, footer = (
        text.index("Header for section-1"),
        text.index("section with header"),
        text.index("Footer for section 1"),
    )
    assert header < body < footer
    assert text.count("Header for section-1") == 1  # the second section only links to it
    order = results["par-known-paragraphs.docx"].text
    assert order.index("Heading Paragraph") < order.index("Normal paragraph")


def test_docx_tables_are_kept_in_order(results: dict[str, ExtractionResult]) -> None:
    result = results["blk-paras-and-tables.docx"]
    assert len(result.tables) == 3
    assert all(table.page == 1 for table in result.tables)
    # The nested table inside the second table is read in place, between its neighbours.
    text = result.text
    assert text.index("Lorem ipsum") < text.index("Text before") < text.index("Table")
    assert text.index("Between") < text.index("Text after") < text.index("Donec semper")
    assert result.author == "Steve Canny"


def test_docx_with_empty_tables_only(results: dict[str, ExtractionResult]) -> None:
    result = results["tbl-having-tables.docx"]
    assert [(len(t.rows), len(t.rows[0])) for t in result.tables] == [(2, 2), (3, 3), (2, 4)]
    assert result.text == ""


def test_docx_with_only_images_completes_empty(results: dict[str, ExtractionResult]) -> None:
    result = results["having-images.docx"]
    assert result.text == "" and result.chars == 0 and result.words == 0
    assert result.pages[0].empty
    assert result.metadata().empty_pages == [1]
    assert result.language is None


async def test_password_protected_pdf(pool: ExtractorPool, corpus: Path) -> None:
    path = corpus / "pdf" / "password-example.pdf"
    result = await pool.extract("pw-right", path, password="test")
    assert len(result.pages) == 4
    assert "Backup4all" in result.text
    with pytest.raises(ExtractionError) as missing:
        await pool.extract("pw-none", path)
    assert missing.value.reason is ReasonCode.ENCRYPTED
    assert "password is required" in missing.value.message
    with pytest.raises(ExtractionError) as wrong:
        await pool.extract("pw-wrong", path, password="not-it")
    assert wrong.value.reason is ReasonCode.ENCRYPTED
    assert "wrong" in wrong.value.message


async def test_empty_pdf_is_an_empty_file(pool: ExtractorPool, corpus: Path) -> None:
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("empty", corpus / "pdf" / "empty.pdf")
    assert caught.value.reason is ReasonCode.EMPTY_FILE


async def test_progress_page_by_page_in_the_loop_thread(pool: ExtractorPool, corpus: Path) -> None:
    calls: list[tuple[int, int]] = []
    threads: set[int] = set()

    def on_progress(done: int, total: int) -> None:
        calls.append((done, total))
        threads.add(threading.get_ident())

    path = corpus / "pdf" / "federal-register-2020-17221.pdf"
    await pool.extract("progress", path, on_progress=on_progress)
    assert calls == [(n, 15) for n in range(1, 16)]
    assert threads == {threading.get_ident()}


_CALLER = contextvars.ContextVar("caller", default="none")


async def test_progress_runs_in_the_callers_context(pool: ExtractorPool, corpus: Path) -> None:
    # The pool takes a worker's frames in the pipe's callback; progress still sees the
    # context of the extract() call (the service's trace context rides on it).
    seen: set[str] = set()

    async def one(name: str) -> None:
        _CALLER.set(name)
        path = corpus / "pdf" / "federal-register-2020-17221.pdf"
        await pool.extract(name, path, on_progress=lambda d, t: seen.add(f"{name}:{_CALLER.get()}"))

    await asyncio.gather(one("first"), one("second"))
    assert seen == {"first:first", "second:second"}


async def test_a_failing_progress_callback_does_not_fail_the_document(
    pool: ExtractorPool, corpus: Path
) -> None:
    def broken(done: int, total: int) -> None:
        raise RuntimeError("callback bug")

    result = await pool.extract(
        "bad-cb", corpus / "pdf" / "issue-33-lorem-ipsum.pdf", on_progress=broken
    )
    assert len(result.pages) == 2
