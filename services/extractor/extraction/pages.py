"""One page of extracted text (kept apart from result.py so the worker needs no pydantic)."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE_SEPARATOR = "\n\n"


@dataclass
class PageText:
    number: int  # 1-based
    text: str
    empty: bool  # no text layer (e.g. a scanned page): reported, not a failure
    # Which reader produced the text: the format's own ("pypdfium2", "python-docx", ...), a
    # fallback ("pypdf", "pdfplumber") or "ocr".
    extractor: str = ""
    ocr_confidence: float | None = None  # 0..1, where OCR produced the text
    warnings: list[str] = field(default_factory=list)


@dataclass
class PageReading:
    """What a format reader hands the collector for one page."""

    text: str
    extractor: str
    ocr_confidence: float | None = None
    warnings: list[str] = field(default_factory=list)
