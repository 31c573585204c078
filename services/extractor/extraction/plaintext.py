"""Plain text and Markdown: the decoded text is the document (Markdown is readable as is)."""

from __future__ import annotations

from .collector import DocumentInfo, PageCollector


def extract_plain(text: str, mime: str, out: PageCollector) -> DocumentInfo:
    out.expect_pages(1)
    # Windows (CR LF) and classic Mac OS (CR alone) line ends, often mixed in one file.
    out.add_page(text.replace("\r\n", "\n").replace("\r", "\n"))
    return DocumentInfo(detected_type=mime, extractor="text")
