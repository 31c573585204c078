"""With tables on, pdfplumber's tables come with the pdfium text, page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.extractor.extraction import ExtractionLimits, ExtractionResult, ExtractorPool

# So the table budget (half of it, 1.5 s) is spent on the longest file: pdfplumber's tables of
# chelsea_pdta.pdf took 2.6 s on a quiet machine (2026-11-27), and 2 s of budget was too close.
TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
async def table_pool() -> AsyncIterator[ExtractorPool]:
    pool = ExtractorPool(workers=1, limits=ExtractionLimits(timeout_s=TIMEOUT_S), tables=True)
    await pool.start()
    yield pool
    await pool.close()


async def extract(pool: ExtractorPool, corpus: Path, name: str) -> ExtractionResult:
    return await pool.extract(f"tables-{name}", corpus / "pdf" / name)


def cells(result: ExtractionResult) -> list[str]:
    return [cell for table in result.tables for row in table.rows for cell in row if cell]


async def test_senate_expenditures_table(table_pool: ExtractorPool, corpus: Path) -> None:
    result = await extract(table_pool, corpus, "senate-expenditures.pdf")
    assert len(result.tables) == 1
    table = result.tables[0]
    assert table.page == 1
    assert {len(row) for row in table.rows} == {7}  # structure kept, not flattened
    assert any("AMOUNT" in cell for cell in cells(result))
    assert "PAYEE NAME" in result.text  # the text itself still comes from pdfium
    assert result.extractor == "pypdfium2"


async def test_table_with_curved_borders(table_pool: ExtractorPool, corpus: Path) -> None:
    result = await extract(table_pool, corpus, "table-curves-example.pdf")
    assert ["Anaemia", "Common", "Common", "Common"] in result.tables[0].rows
    assert "very rare" in result.text


async def test_rotated_table(table_pool: ExtractorPool, corpus: Path) -> None:
    result = await extract(table_pool, corpus, "nics-background-checks-2015-11-rotated.pdf")
    assert len(result.tables) == 1
    assert any("Handgun" in cell for cell in cells(result))
    assert result.metadata().tables == 1


async def test_tables_are_numbered_by_page(table_pool: ExtractorPool, corpus: Path) -> None:
    result = await extract(table_pool, corpus, "issue-33-lorem-ipsum.pdf")
    assert [table.page for table in result.tables] == [1, 2]
    assert not result.warnings


async def test_table_search_stops_at_its_budget(
    table_pool: ExtractorPool, pool: ExtractorPool, corpus: Path
) -> None:
    # pdfplumber needs ~2.6 s for this file's tables, over the 1.5 s budget (half the
    # timeout); pdfium's text takes 0.2 s. The text must come back whole, without a timeout.
    result = await extract(table_pool, corpus, "chelsea_pdta.pdf")
    text_only = await pool.extract("no-tables", corpus / "pdf" / "chelsea_pdta.pdf")
    assert result.pages == text_only.pages
    assert result.tables  # the pages before the budget ran out do have theirs
    assert any("table budget" in warning for warning in result.warnings)
    assert result.took_ms < TIMEOUT_S * 1000
