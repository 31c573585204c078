"""The baseline of the pipeline benchmark: the same extraction and analysis code, called
directly in one process, with no Kafka, no worker pool and no database in between."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from services.analyzer.analysis import OfflineConfig, OfflineProvider
from services.extractor.extraction.dispatch import extract_pages
from services.extractor.extraction.pages import PAGE_SEPARATOR
from services.extractor.settings import ExtractorSettings

# Same table setting as the extractor's default, so both sides do the same work.
_TABLES: bool = ExtractorSettings.model_fields["tables"].default


async def _one(path: Path, provider: OfflineProvider) -> int:
    pages = extract_pages(path, tables=_TABLES)
    await provider.analyze(PAGE_SEPARATOR.join(pages), document_id="raw-loop")
    return len(pages)


async def _loop(path: Path, copies: int) -> float:
    # One thread for the CPU work: a single process, a single core's worth of work at a time.
    provider = OfflineProvider(OfflineConfig(executor="thread", workers=1))
    try:
        await _one(path, provider)  # warm-up: imports, lexicons, language profiles
        started = time.perf_counter()
        pages = 0
        for _ in range(copies):
            pages += await _one(path, provider)
        return pages / (time.perf_counter() - started)
    finally:
        await provider.close()


def pages_per_second(path: Path, copies: int) -> float:
    """Pages per second of the bare loop over ``copies`` copies of ``path``."""
    return asyncio.run(_loop(path, copies))
