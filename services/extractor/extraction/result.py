"""What a finished extraction hands back to the caller."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.events import ExtractionMetadata, PageInfo, TableData

from .pages import PAGE_SEPARATOR, PageText

# Lifecycle events (and so the read model) carry per-page info up to this many pages and
# characters of warnings, so that extraction.completed stays far below Kafka's record limit;
# documents.extracted carries every page's (by reference when too large).
METADATA_PAGE_INFO_MAX = 500
METADATA_WARNING_CHARS_MAX = 100_000


@dataclass
class ExtractionResult:
    detected_type: str
    extractor: str
    pages: list[PageText]
    tables: list[TableData]
    title: str | None
    author: str | None
    language: str | None
    chars: int  # len(self.text)
    words: int
    took_ms: float
    # Things the caller may want to surface, e.g. table finding stopped by its time budget.
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return PAGE_SEPARATOR.join(page.text for page in self.pages)

    def metadata(self) -> ExtractionMetadata:
        return ExtractionMetadata(
            detected_type=self.detected_type,
            extractor=self.extractor,
            pages=len(self.pages),
            chars=self.chars,
            words=self.words,
            language=self.language,
            title=self.title,
            author=self.author,
            took_ms=self.took_ms,
            empty_pages=[page.number for page in self.pages if page.empty],
            tables=len(self.tables),
            page_info=self.page_info() if self._page_info_fits_events() else [],
        )

    def _page_info_fits_events(self) -> bool:
        if len(self.pages) > METADATA_PAGE_INFO_MAX:
            return False
        warning_chars = sum(len(w) for page in self.pages for w in page.warnings)
        return warning_chars <= METADATA_WARNING_CHARS_MAX

    def page_info(self) -> list[PageInfo]:
        return [
            PageInfo(
                number=p.number,
                chars=len(p.text),
                empty=p.empty,
                extractor=p.extractor or self.extractor,
                ocr_confidence=p.ocr_confidence,
                warnings=p.warnings,
            )
            for p in self.pages
        ]

    def page_extractors(self) -> list[str]:
        """Which reader produced each page, in page order."""
        return [page.extractor or self.extractor for page in self.pages]
