"""Worker side: every format reader hands its pages to a :class:`PageCollector`.

The collector is the one place that sanitizes text, counts characters and words, enforces the
page and character limits, and keeps a sample for language detection. Pages leave through the
``on_page`` / ``on_table`` callbacks as soon as they are read, so the worker never holds the
whole text and the pool can report progress page by page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.reasons import ReasonCode
from shared.text import count_words, detect_language, sanitize

from .errors import ExtractionError
from .limits import ExtractionLimits
from .pages import PAGE_SEPARATOR, PageText

Rows = list[list[str | None]]
PageCallback = Callable[[PageText, int], None]  # (page, pages_total)
TableCallback = Callable[[int, Rows], None]  # (page number, rows)

# detect_language looks at the first 4000 characters; keep a little more than that.
_LANGUAGE_SAMPLE_CHARS = 5000
# Per page, so that a page's metadata stays small however a reader complains.
_MAX_WARNINGS = 5
_MAX_WARNING_CHARS = 200


@dataclass
class DocumentInfo:
    """What a format reader learned about the document besides its pages."""

    detected_type: str
    extractor: str
    title: str | None = None
    author: str | None = None
    warnings: list[str] = field(default_factory=list)


class PageCollector:
    def __init__(
        self, limits: ExtractionLimits, on_page: PageCallback, on_table: TableCallback
    ) -> None:
        self._limits = limits
        self._on_page = on_page
        self._on_table = on_table
        self.pages_total = 0
        self.pages_done = 0
        self.chars = 0
        self.words = 0
        self._sample: list[str] = []
        self._sample_chars = 0

    def expect_pages(self, total: int) -> None:
        """Announce the page count; refused before any page is read when it is over the limit."""
        if total > self._limits.max_pages:
            raise ExtractionError(
                ReasonCode.TOO_MANY_PAGES,
                f"The document has {total} pages; at most {self._limits.max_pages} are accepted.",
            )
        self.pages_total = total

    def add_page(
        self,
        raw_text: str,
        tables: Sequence[Rows] = (),
        *,
        extractor: str = "",
        ocr_confidence: float | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        """One page, in order. ``extractor`` names the reader when it is not the document's
        own (a fallback, OCR); ``warnings`` say what went wrong on this page."""
        text = sanitize(raw_text)
        empty = not text.strip()
        if empty:
            text = ""
        self.chars += len(text) + (len(PAGE_SEPARATOR) if self.pages_done else 0)
        if self.chars > self._limits.max_chars:
            raise ExtractionError(
                ReasonCode.TOO_LARGE,
                f"The text is longer than {self._limits.max_chars} characters "
                f"(limit reached on page {self.pages_done + 1}).",
            )
        self.words += count_words(text)
        if self._sample_chars < _LANGUAGE_SAMPLE_CHARS and not empty:
            self._sample.append(text[:_LANGUAGE_SAMPLE_CHARS])
            self._sample_chars += len(self._sample[-1])
        self.pages_done += 1
        self.pages_total = max(self.pages_total, self.pages_done)
        for rows in tables:
            self._on_table(self.pages_done, [[_clean_cell(c) for c in row] for row in rows])
        page = PageText(
            self.pages_done,
            text,
            empty,
            extractor,
            ocr_confidence,
            [sanitize(w)[:_MAX_WARNING_CHARS] for w in warnings[:_MAX_WARNINGS]],
        )
        self._on_page(page, self.pages_total)

    def language(self) -> str | None:
        return detect_language(PAGE_SEPARATOR.join(self._sample))


def _clean_cell(cell: str | None) -> str | None:
    return None if cell is None else sanitize(cell)


def clean_field(value: object) -> str | None:
    """A metadata value (title, author) as a sanitized string, or None when blank."""
    if value is None:
        return None
    text = sanitize(str(value)).strip()
    return text or None
