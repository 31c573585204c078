"""The baseline of the pipeline benchmark: the same extraction and analysis code, called
directly in one process, with no Kafka, no worker pool and no database in between."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from services.analyzer.analysis import OfflineConfig, OfflineProvider
from services.extractor.extraction.dispatch import extract_pages
from services.extractor.extraction.pages import PAGE_SEPARATOR
from services.extractor.settings import ExtractorSettings
from shared import heap

# Same table setting as the extractor's default, so both sides do the same work.
_TABLES: bool = ExtractorSettings.model_fields["tables"].default


@dataclass(frozen=True)
class RawLoop:
    pages_per_s: float
    #: CPU seconds (user + system) of this process per document: the work itself, which the
    #: pipeline's CPU budget subtracts to find its overhead.
    cpu_s_per_doc: float

    @classmethod
    def median_of(cls, rounds: list[RawLoop]) -> RawLoop:
        """Each figure's median over rounds of the same loop (taken at different times)."""
        return cls(
            statistics.median(r.pages_per_s for r in rounds),
            statistics.median(r.cpu_s_per_doc for r in rounds),
        )


async def _one(path: Path, provider: OfflineProvider) -> int:
    pages = extract_pages(path, tables=_TABLES)
    await provider.analyze(PAGE_SEPARATOR.join(pages), document_id="raw-loop")
    return len(pages)


async def _loop(path: Path, copies: int) -> RawLoop:
    # One thread for the CPU work: a single process, a single core's worth of work at a time.
    provider = OfflineProvider(OfflineConfig(executor="thread", workers=1))
    try:
        await _one(path, provider)  # warm-up: imports, lexicons, language profiles
        # The same collector settings as the services' work processes (shared/heap.py): the
        # work is measured at its cheapest, not with the collector walking every import.
        heap.settle()
        # Process-wide CPU: the analysis runs in the provider's thread. Nothing else in this
        # process works meanwhile (the benchmark waits on this loop).
        cpu, started = time.process_time(), time.perf_counter()
        pages = 0
        for _ in range(copies):
            pages += await _one(path, provider)
        elapsed = time.perf_counter() - started
        return RawLoop(pages / elapsed, (time.process_time() - cpu) / copies)
    finally:
        await provider.close()


async def _work_ms(path: Path, rounds: int) -> float:
    provider = OfflineProvider(OfflineConfig(executor="thread", workers=1))
    try:
        timings = []
        for number in range(rounds + 5):  # the first five warm up
            started = time.perf_counter()
            await _one(path, provider)
            if number == 0:
                heap.settle()  # as in _loop
            if number >= 5:
                timings.append((time.perf_counter() - started) * 1000)
        return statistics.median(timings)
    finally:
        await provider.close()


def work_ms(path: Path, rounds: int = 50) -> float:
    """Median ms of the work alone for one copy of ``path`` (extraction with the service's
    table setting, then the offline analysis), in one process: what neither side's latency
    can go below."""
    return asyncio.run(_work_ms(path, rounds))


def measure(path: Path, copies: int) -> RawLoop:
    """The bare loop over ``copies`` copies of ``path`` (after one untimed copy)."""
    return asyncio.run(_loop(path, copies))


def pages_per_second(path: Path, copies: int) -> float:
    """Pages per second of the bare loop over ``copies`` copies of ``path``."""
    return measure(path, copies).pages_per_s
