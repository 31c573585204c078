"""The OCR settings reach the pool's options; fallbacks are counted per reader; per-page info
in lifecycle events stays bounded."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from services.extractor import metrics
from services.extractor.extraction import ExtractionResult, OcrOptions, PageText
from services.extractor.extraction.result import METADATA_PAGE_INFO_MAX
from services.extractor.settings import ExtractorSettings


def test_ocr_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", "x" * 32)  # every service's settings need one
    assert ExtractorSettings().ocr_options() == OcrOptions()  # auto, eng+fra
    monkeypatch.setenv("DOCSTREAM_EXTRACTOR_OCR", "never")
    monkeypatch.setenv("DOCSTREAM_EXTRACTOR_OCR_LANGUAGES", "fra")
    monkeypatch.setenv("DOCSTREAM_EXTRACTOR_OCR_DPI", "200")
    options = ExtractorSettings().ocr_options()
    assert (options.mode, options.languages, options.dpi) == ("never", "fra", 200)
    monkeypatch.setenv("DOCSTREAM_EXTRACTOR_OCR", "sometimes")
    with pytest.raises(ValidationError):
        ExtractorSettings()


def _count(name: str, reader: str) -> float:
    return REGISTRY.get_sample_value(name, {"reader": reader}) or 0.0


def test_pages_are_counted_by_reader_and_fallback() -> None:
    pages = [
        PageText(1, "text", False, "pypdfium2"),
        PageText(2, "Phone", False, "ocr", 0.95, ["read by ocr"]),
        PageText(3, "more", False, "pypdf"),
        PageText(4, "scan", False, "ocr", 0.9),
    ]
    result = ExtractionResult("application/pdf", "pypdfium2", pages, [], None, None, None, 0, 0, 1)
    by_reader = "docstream_extractor_pages_by_reader_total"
    fallback = "docstream_extractor_fallback_pages_total"
    before = {r: (_count(by_reader, r), _count(fallback, r)) for r in ("pypdfium2", "ocr", "pypdf")}
    metrics.record_pages(result)
    after = {r: (_count(by_reader, r), _count(fallback, r)) for r in before}
    gained = {r: (after[r][0] - before[r][0], after[r][1] - before[r][1]) for r in before}
    assert gained == {"pypdfium2": (1, 0), "ocr": (2, 2), "pypdf": (1, 1)}


def test_per_page_info_in_events_is_bounded() -> None:
    def result(pages: int, warning: str = "") -> ExtractionResult:
        warnings = [warning] if warning else []
        texts = [PageText(n, "x", False, "ocr", 0.9, warnings) for n in range(1, pages + 1)]
        return ExtractionResult(
            "application/pdf", "pypdfium2", texts, [], None, None, None, chars=1, words=1, took_ms=0
        )

    small = result(3, "read by ocr")
    assert [(p.number, p.extractor, p.warnings) for p in small.metadata().page_info] == [
        (n, "ocr", ["read by ocr"]) for n in (1, 2, 3)
    ]
    assert result(METADATA_PAGE_INFO_MAX + 1).metadata().page_info == []
    assert result(METADATA_PAGE_INFO_MAX, "w" * 300).metadata().page_info == []  # too wordy
    assert len(result(METADATA_PAGE_INFO_MAX + 1).page_info()) == METADATA_PAGE_INFO_MAX + 1
