"""Worker side: every format reader hands its pages to a :class:`PageCollector`.

The collector is the one place that sanitizes text, counts characters and words, enforces the
page and character limits, and keeps a sample for language detection. Pages leave through the
``on_page`` / ``on_table`` callbacks as soon as they are read, so the worker never holds the
whole text and the pool can report progress page by page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from shared.reasons import ReasonCode
from shared.text import count_words, detect_language, sanitize

from .errors import ExtractionError
from .limits import ExtractionLimits
from .pages import PAGE_SEPARATOR, PageText

Rows = list[list[str | None]]
PageCallback = Callable[[PageText, int], None]  # (page, pages_total)
TableCallback = Callable[[int, Rows], None]  # (page number, rows)
# Given the page count, the 0-based page ranges this job reads, in turn: all pages at once, or
# the ranges the pool hands this worker while it shares the document with others (pool.py).
PageChooser = Callable[[int], Iterator[range]]

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
    # Said once per document, however many pages (or parts of a split document) meet them;
    # reported after ``warnings``.
    document_warnings: list[str] = field(default_factory=list)


class LanguageSample:
    """The text language detection looks at: the first non-empty pages, up to a size.

    One definition for the worker's collector and for the pool, which rebuilds the sample of a
    document whose pages were read by several workers."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.chars = 0

    @property
    def full(self) -> bool:
        return self.chars >= _LANGUAGE_SAMPLE_CHARS

    def add(self, text: str, empty: bool) -> None:
        if not self.full and not empty:
            self.parts.append(text[:_LANGUAGE_SAMPLE_CHARS])
            self.chars += len(self.parts[-1])

    def language(self) -> str | None:
        return detect_language(PAGE_SEPARATOR.join(self.parts))


def too_much_text(limit: int, page: int | None) -> ExtractionError:
    """``page`` None: a PDF split between workers, where which worker's count passes the limit
    first (and on which page) depends on timing; its message must not."""
    where = f" (limit reached on page {page})" if page is not None else ""
    return ExtractionError(
        ReasonCode.TOO_LARGE, f"The text is longer than {limit} characters{where}."
    )


class PageCollector:
    def __init__(
        self,
        limits: ExtractionLimits,
        on_page: PageCallback,
        on_table: TableCallback,
        choose_pages: PageChooser | None = None,
    ) -> None:
        self._limits = limits
        self._on_page = on_page
        self._on_table = on_table
        self._choose_pages = choose_pages
        self.pages_total = 0
        self.pages_done = 0
        self.chars = 0
        self.words = 0
        self._sample = LanguageSample()

    def expect_pages(self, total: int) -> Iterator[int]:
        """Announce the page count; refused before any page is read when it is over the limit.

        Returns the 0-based pages to read, in order: all of them, unless the worker shares the
        document with others. Then its pages come in ranges, and it numbers them and counts
        their characters as the whole document would (a separator before each but the
        first page), so that the parts add up to the unsplit result."""
        if total > self._limits.max_pages:
            raise ExtractionError(
                ReasonCode.TOO_MANY_PAGES,
                f"The document has {total} pages; at most {self._limits.max_pages} are accepted.",
            )
        self.pages_total = total
        ranges = self._choose_pages(total) if self._choose_pages else iter([range(total)])
        return self._pages(ranges)

    def _pages(self, ranges: Iterator[range]) -> Iterator[int]:
        for pages in ranges:
            for index in pages:
                self.pages_done = index  # the pages before it, read here or elsewhere
                yield index

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
            raise too_much_text(self._limits.max_chars, self.pages_done + 1)
        self.words += count_words(text)
        self._sample.add(text, empty)
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
        return self._sample.language()


def _clean_cell(cell: str | None) -> str | None:
    return None if cell is None else sanitize(cell)


def clean_field(value: object) -> str | None:
    """A metadata value (title, author) as a sanitized string, or None when blank."""
    if value is None:
        return None
    text = sanitize(str(value)).strip()
    return text or None
