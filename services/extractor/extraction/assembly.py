"""The parent's side of one job: frames from a worker become an ExtractionResult."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from shared.events import TableData
from shared.reasons import ReasonCode

from . import protocol
from .collector import too_much_text
from .errors import ExtractionError
from .pages import PageText
from .process import Frame
from .result import ExtractionResult

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class ResultAssembly:
    """Builds an ExtractionResult from a worker's frames, reporting progress per page."""

    def __init__(self) -> None:
        self.pages: list[PageText] = []
        self.tables: list[TableData] = []
        self._text: list[str] = []
        self._page_meta: protocol.Header = {}
        self._open_table: TableData | None = None
        self.worker_exiting = False  # the worker reported an error it cannot survive

    def add(self, frame: Frame, on_progress: ProgressCallback | None) -> protocol.Header | None:
        """Take one frame; returns the DONE header at the end, raises on an ERROR frame."""
        header, body = frame
        kind = header["k"]
        if kind == protocol.PAGE:
            if not self._text:  # a page's first frame carries its metadata
                self._page_meta = header
            self._text.append(body.decode("utf-8"))
            if not header["more"]:
                text = "".join(self._text)
                self._text.clear()
                meta = self._page_meta
                confidence = meta.get("ocr_confidence")
                page = PageText(
                    int(header["n"]),
                    text,
                    bool(header["empty"]),
                    extractor=str(meta.get("extractor") or ""),
                    ocr_confidence=None if confidence is None else float(confidence),
                    warnings=[str(w) for w in meta.get("warnings") or []],
                )
                self.pages.append(page)
                _report(on_progress, len(self.pages), int(header["total"]))
        elif kind == protocol.TABLE:
            # Validated chunk by chunk: one big validation would hold the event loop.
            chunk = TableData(page=header["page"], rows=header["rows"])
            if self._open_table is None:
                self._open_table = chunk
                self.tables.append(chunk)
            else:
                self._open_table.rows.extend(chunk.rows)
            if not header["more"]:
                self._open_table = None
        elif kind == protocol.ERROR:
            self.worker_exiting = bool(header.get("fatal"))
            raise ExtractionError(ReasonCode(header["reason"]), str(header["message"]))
        elif kind == protocol.DONE:
            return header
        else:
            raise ValueError(f"unexpected frame {kind!r}")
        return None

    def result(self, done: protocol.Header, *, took_ms: float) -> ExtractionResult:
        return ExtractionResult(
            detected_type=str(done["detected_type"]),
            extractor=str(done["extractor"]),
            pages=self.pages,
            tables=self.tables,
            title=done.get("title"),
            author=done.get("author"),
            language=done.get("language"),
            chars=int(done["chars"]),
            words=int(done["words"]),
            took_ms=took_ms,
            warnings=_warnings(done),
        )


def merge_parts(
    parts: Sequence[tuple[ResultAssembly, protocol.Header]],
    *,
    language: str | None,
    max_chars: int,
    took_ms: float,
) -> ExtractionResult:
    """One result from the parts of a split PDF, in page order: what one worker reading the
    whole file would have produced (the caller works out the ``language``). Each page was read
    by one worker, so its tables come from one part, in their order.

    Raises the collector's error when the parts' text together is over ``max_chars``: each
    part only knew its own."""
    first = parts[0][1]
    pages = sorted((page for assembly, _ in parts for page in assembly.pages), key=_number)
    chars = sum(int(done["chars"]) for _, done in parts)
    if chars > max_chars:
        raise too_much_text(max_chars, None)  # the same words as a part over it alone
    # Each worker says a document-wide warning once, and a per-part one (pdfplumber cannot
    # open the file) too: said once here. Page warnings keep their order within each part.
    warnings: list[str] = []
    document_warnings: list[str] = []
    for _, done in parts:
        for said, into in (
            (done.get("warnings", []), warnings),
            (done.get("document_warnings", []), document_warnings),
        ):
            for warning in map(str, said):
                if warning not in into:
                    into.append(warning)
    return ExtractionResult(
        detected_type=str(first["detected_type"]),
        extractor=str(first["extractor"]),
        pages=pages,
        tables=sorted((t for assembly, _ in parts for t in assembly.tables), key=_page),
        title=first.get("title"),
        author=first.get("author"),
        language=language,
        chars=chars,
        words=sum(int(done["words"]) for _, done in parts),
        took_ms=took_ms,
        warnings=warnings + document_warnings,
    )


def _number(page: PageText) -> int:
    return page.number


def _page(table: TableData) -> int:
    return table.page or 0  # PDF tables always name their page


def _warnings(done: protocol.Header) -> list[str]:
    return [str(w) for w in [*done.get("warnings", []), *done.get("document_warnings", [])]]


def _report(on_progress: ProgressCallback | None, done: int, total: int) -> None:
    if on_progress is None:
        return
    try:
        on_progress(done, total)
    except Exception:  # the caller's bug must not fail the document
        logger.exception("progress callback failed")
