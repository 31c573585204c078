"""Files that used to come out wrong without a word (issue 8): each test failed before its fix."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import psutil  # type: ignore[import-untyped, unused-ignore]
import pytest

from services.extractor.extraction import ExtractionError, ExtractorPool
from services.extractor.extraction.dispatch import extract_pages
from shared.reasons import ReasonCode

from .extraction_samples import CORPUS, assert_serves, pdf_bytes, peak_rss

Write = Callable[[str, bytes | str], Path]


# --- DOCX: each table cell keeps its own text ---


def _grid_docx(path: Path) -> Path:
    """A 3x3 table holding 1..9, a table with merged cells and one with a nested table."""
    document = docx.Document()
    plain = document.add_table(rows=3, cols=3)
    for index, cell in enumerate(c for row in plain.rows for c in row.cells):
        cell.text = str(index + 1)
    document.add_paragraph("between")
    merged = document.add_table(rows=3, cols=3)
    for r, row in enumerate(merged.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"m{r}{c}"
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "wide"  # a horizontal merge
    merged.cell(1, 2).merge(merged.cell(2, 2)).text = "tall"  # a vertical merge
    outer = document.add_table(rows=2, cols=2)
    for r, row in enumerate(outer.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"o{r}{c}"
    inner = outer.cell(1, 1).add_table(rows=2, cols=2)
    for r, row in enumerate(inner.rows):
        for c, cell in enumerate(row.cells):
            cell.text = f"i{r}{c}"
    document.save(str(path))
    return path


async def test_docx_table_cells_keep_their_own_text(pool: ExtractorPool, tmp_path: Path) -> None:
    result = await pool.extract("docx-cells", _grid_docx(tmp_path / "cells.docx"))
    plain, merged, outer = result.tables
    assert plain.rows == [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]
    assert merged.rows == [
        ["wide", "wide", "m02"],
        ["m10", "m11", "tall"],
        ["m20", "m21", "tall"],
    ]
    assert outer.rows[0] == ["o00", "o01"]
    assert outer.rows[1][0] == "o10"
    nested = outer.rows[1][1] or ""
    assert [line for line in nested.split("\n") if line] == ["o11", "i00 | i01", "i10 | i11"]
    lines = result.text.split("\n")
    assert lines[:3] == ["1 | 2 | 3", "4 | 5 | 6", "7 | 8 | 9"]
    assert "wide | m02" in lines and "m10 | m11 | tall" in lines


# --- PDF: the page count is the real one, not the page tree's /Count ---


def _lying_count_pdf(claimed: int) -> bytes:
    honest = pdf_bytes(["first real page", "second real page"])
    return honest.replace(b"/Count 2 ", b"/Count %d " % claimed, 1)


@pytest.mark.parametrize("claimed", [10, 100_000])
async def test_pdf_page_count_comes_from_the_page_tree(
    pool: ExtractorPool, write: Write, claimed: int
) -> None:
    path = write(f"count-{claimed}.pdf", _lying_count_pdf(claimed))
    result = await pool.extract(f"count-{claimed}", path)
    assert [page.number for page in result.pages] == [1, 2]
    assert [page.text for page in result.pages] == ["first real page", "second real page"]
    assert not any(page.empty for page in result.pages)
    assert result.metadata().pages == 2


def test_a_pdf_whose_count_is_honest_reads_every_page(write: Write) -> None:
    path = write("honest.pdf", pdf_bytes(["one", None, "three"]))
    assert extract_pages(path) == ["one", "", "three"]


# --- DOCX: the zip's declared sizes are not trusted ---

_HUGE_MIB = 1024
_DECLARED = 5000


def _lying_zip_docx(path: Path) -> Path:
    """A real DOCX whose word/document.xml inflates to 1 GiB while the zip declares 5,000 bytes
    for it (local header and central directory alike): about 1 MB on disk."""
    template = CORPUS / "docx" / "test.docx"
    honest = path.with_suffix(".honest")
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for info in source.infolist():
            if info.filename != "word/document.xml":
                out.writestr(info, source.read(info))
        with out.open("word/document.xml", "w") as member:
            chunk = b" " * 2**20  # whitespace: well-formed to the last byte a parser sees
            for _ in range(_HUGE_MIB):
                member.write(chunk)
    data = bytearray(honest.read_bytes())
    honest.unlink()
    name = b"word/document.xml"
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            start = at + 4
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, _DECLARED)
    path.write_bytes(bytes(data))
    return path


async def test_a_docx_lying_about_its_sizes_is_too_large_in_little_memory(
    tmp_path: Path,
) -> None:
    path = _lying_zip_docx(tmp_path / "liar.docx")
    assert path.stat().st_size < 2 * 2**20
    with zipfile.ZipFile(path) as archive:  # the lie: 5,000 bytes declared
        assert archive.getinfo("word/document.xml").file_size == _DECLARED
    before = {child.pid for child in psutil.Process().children()}
    async with ExtractorPool(workers=1, tables=False) as single:
        (worker,) = [c for c in psutil.Process().children() if c.pid not in before]
        with peak_rss(worker) as peak, pytest.raises(ExtractionError) as caught:
            await single.extract("liar", path)
        assert caught.value.reason is ReasonCode.TOO_LARGE, caught.value.message
        assert "inflates" in caught.value.message
        print(f"lying zip: worker peak {peak[0] / 2**20:.0f} MiB")
        assert peak[0] < 300 * 2**20, f"worker peaked at {peak[0] / 2**20:.0f} MiB"
        await assert_serves(single, "liar-after")
