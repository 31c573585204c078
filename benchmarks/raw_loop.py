"""The baseline of the pipeline benchmark: the same extraction and analysis code, called
directly in one process, with no Kafka, no pool and no database in between."""

from __future__ import annotations

from pathlib import Path

from services.analyzer.analysis.chunking import split_chunks
from services.analyzer.analysis.extractive import (
    ExtractiveSettings,
    detect,
    map_chunk,
    reduce_digests,
)
from services.analyzer.analysis.offline import OfflineConfig
from services.extractor.extraction.collector import PageCollector
from services.extractor.extraction.dispatch import extract_document
from services.extractor.extraction.limits import ExtractionLimits
from services.extractor.settings import ExtractorSettings

_LIMITS = ExtractionLimits()
_OFFLINE = OfflineConfig()


def extract_and_analyze(path: Path) -> int:
    """Extract and analyse one document as the services would; returns its page count."""
    pages: list[str] = []
    collector = PageCollector(
        _LIMITS, lambda page, total: pages.append(page.text), lambda number, rows: None
    )
    # Same table setting as the extractor's default, so both sides do the same work.
    tables = ExtractorSettings.model_fields["tables"].default
    extract_document(path, password=None, tables=tables, limits=_LIMITS, out=collector)
    text = "\n\n".join(pages)
    settings: ExtractiveSettings = _OFFLINE.settings
    language = detect(text)
    digests = [
        map_chunk(c.text, c.start, c.index, language, settings)
        for c in split_chunks(text, _OFFLINE.chunk_chars)
    ]
    reduce_digests(digests, language, settings)
    return len(pages)
