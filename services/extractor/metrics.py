"""extractor's own metrics; its consumer's (records read, offset commits) come from
shared/record_consumer.py."""

from __future__ import annotations

from collections import Counter as Tally
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from services.extractor.extraction import ExtractionResult

DOCUMENTS = Counter(
    "docstream_extractor_documents_total",
    "Documents handled, by outcome (completed, failed, cancelled) and reason.",
    ["outcome", "reason"],
)
PAGES = Counter("docstream_extractor_pages_total", "Pages extracted.")
DURATION = Histogram(
    "docstream_extractor_duration_seconds",
    "Wall time of one document's extraction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
PAGE_RATE = Histogram(
    "docstream_extractor_pages_per_second",
    "Pages per second of one document's extraction (OCR ~1, text layers hundreds).",
    buckets=(0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
DOCUMENT_PAGES = Histogram(
    "docstream_extractor_document_pages",
    "Pages per extracted document.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000),
)
IN_FLIGHT = Gauge("docstream_extractor_in_flight", "Documents being extracted now.")
DEAD_LETTERS = Counter("docstream_extractor_dead_letters_total", "Records dead-lettered.")
RETRIES = Counter(
    "docstream_extractor_retries_total",
    "Extractions run again after a transient error (broker, database, blob storage), by error.",
    ["error"],
)
PAGES_BY_READER = Counter(
    "docstream_extractor_pages_by_reader_total",
    "Pages by the reader that produced their text (pypdfium2, pypdf, pdfplumber, ocr, ...).",
    ["reader"],
)
FALLBACK_PAGES = Counter(
    "docstream_extractor_fallback_pages_total",
    "Pages whose fast-path text was not trusted and that another reader read, by that reader.",
    ["reader"],
)


def record_pages(result: ExtractionResult) -> None:
    """Count a completed document's pages, by reader and fallback."""
    PAGES.inc(len(result.pages))
    DOCUMENT_PAGES.observe(len(result.pages))
    for reader, count in Tally(result.page_extractors()).items():
        PAGES_BY_READER.labels(reader).inc(count)
        if reader != result.extractor:
            FALLBACK_PAGES.labels(reader).inc(count)
