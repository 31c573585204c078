"""One document, any supported format: size checks, type detection, the right reader."""

from __future__ import annotations

from pathlib import Path

from shared.reasons import ReasonCode

from .collector import DocumentInfo, PageCollector
from .csv_table import extract_csv
from .decoding import decode_text
from .detect import HEAD_BYTES, OCTET_STREAM, Kind, detect
from .errors import ExtractionError
from .html_text import extract_html
from .limits import ExtractionLimits
from .ocr import OcrEngine
from .ocr_options import OcrOptions
from .pdf import extract_pdf
from .plaintext import extract_plain
from .textkind import HTML, classify_text
from .word import extract_docx


def extract_document(
    path: Path,
    *,
    password: str | None,
    tables: bool,
    limits: ExtractionLimits,
    out: PageCollector,
    ocr: OcrOptions = OcrOptions(),  # noqa: B008 - frozen, safe to share
    ocr_engine: OcrEngine | None = None,
    ocr_languages: str | None = None,
) -> DocumentInfo:
    """``ocr_engine``: the worker's (models stay loaded); None makes one for this document."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except FileNotFoundError as exc:
        raise ExtractionError(ReasonCode.BLOB_MISSING, f"The file is missing: {path}") from exc
    if size == 0:
        raise ExtractionError(ReasonCode.EMPTY_FILE, "The file is empty (0 bytes).")
    if size > limits.max_file_bytes:
        raise ExtractionError(
            ReasonCode.TOO_LARGE,
            f"The file has {size} bytes; at most {limits.max_file_bytes} are accepted.",
        )
    detected = detect(path, head)
    if detected.kind is Kind.PDF:
        return extract_pdf(
            path,
            password=password,
            tables=tables,
            limits=limits,
            out=out,
            ocr=ocr,
            ocr_engine=ocr_engine or OcrEngine(ocr),
            ocr_languages=ocr_languages,
        )
    if detected.kind is Kind.DOCX:
        return extract_docx(path, limits, out)
    if detected.kind is Kind.TEXT:
        text = decode_text(path.read_bytes())
        if text is not None:
            kind = classify_text(text)
            if kind.mime == HTML:
                return extract_html(text, out)
            if kind.delimiter is not None:
                return extract_csv(text, kind.mime, kind.delimiter, limits, out)
            return extract_plain(text, kind.mime, out)
    mime = OCTET_STREAM if detected.kind is Kind.TEXT else detected.mime
    raise ExtractionError(
        ReasonCode.UNSUPPORTED_TYPE,
        f"The file's type ({mime}) is not supported; "
        "send PDF, DOCX, plain text, Markdown, HTML or CSV.",
    )


def extract_pages(
    path: Path,
    *,
    password: str | None = None,
    tables: bool = False,
    limits: ExtractionLimits | None = None,
    ocr: OcrOptions = OcrOptions(),  # noqa: B008 - frozen, safe to share
) -> list[str]:
    """The page texts of one document, in this process (no pool; limits are not enforced by
    killing anything).

    For tools, benchmarks and tests that need the service's text of a file; the service
    itself goes through :class:`ExtractorPool`. Raises :class:`ExtractionError`.
    """
    limits = limits or ExtractionLimits()
    pages: list[str] = []
    collector = PageCollector(
        limits, lambda page, total: pages.append(page.text), lambda number, rows: None
    )
    extract_document(path, password=password, tables=tables, limits=limits, out=collector, ocr=ocr)
    return pages
