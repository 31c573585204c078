"""The fallback chain for one PDF page whose fast-path text is not trustworthy.

pdfium's text is checked page by page (:mod:`.quality`); a page that passes is done. One that
fails is read by the next readers in turn, pypdf, then pdfplumber (each opened on the first
page that needs it, never for a healthy document), then OCR, until one gives trustworthy text;
the reading with the most believable text is kept. A page with no text at all that draws
nothing but images goes straight to OCR: the text readers read the same empty text layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2.raw as pdfium_c

from .ocr import OcrEngine, OcrUnavailableError
from .ocr_options import OcrOptions
from .pages import PageReading
from .pdf_rtl import Span, may_be_reversed, settle_spans, settle_words
from .quality import Verdict, assess, score

FAST = "pypdfium2"
_CID = re.compile(r"\(cid:\d+\)")


class PageRescue:
    """Per document: decides, per page, whether the fast path's text stands."""

    def __init__(
        self,
        path: Path,
        password: str | None,
        options: OcrOptions,
        engine: OcrEngine | None,
        languages: str | None,
    ) -> None:
        self._path = path
        self._password = password
        self._options = options
        self._engine = engine if options.mode != "never" else None
        self._asked_languages = languages
        self._languages: str | None = None
        self._pypdf_pages: Any = None
        self._plumber: Any = None
        self.document_warnings: list[str] = []

    def read(self, page: Any, index: int, fast_text: str) -> PageReading:
        if not self._options.text_check:
            return PageReading(fast_text, FAST)
        verdict = assess(fast_text)
        if self._options.mode != "always" and verdict.trusted:
            return PageReading(fast_text, FAST)
        if verdict.reason == "no text" and self._options.mode != "always":
            kinds = _object_kinds(page)
            if not kinds:
                return PageReading(fast_text, FAST)  # a blank page: nothing to read
            if pdfium_c.FPDF_PAGEOBJ_TEXT not in kinds:
                return self._best(page, index, [(fast_text, FAST, None, verdict)], texts=False)
        return self._best(page, index, [(fast_text, FAST, None, verdict)], texts=True)

    def text_without_pdfium(self, index: int) -> str | None:
        """pypdf's text of a page pdfium cannot load; None when pypdf cannot either."""
        try:
            return self._pypdf_text(index)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - the caller reports the page as unreadable
            return None

    def settle_right_to_left(
        self, index: int, text: str, spans: list[Span]
    ) -> tuple[str, list[str]]:
        """Right-to-left ligatures' letters, and whole words, in the order pypdf reads them
        where that is the logical one (see pdf_rtl)."""
        if not spans and not may_be_reversed(text):
            return text, []
        try:
            reference = self._pypdf_text(index)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - without a reference, pdfium's order stands
            return text, []
        notes = []
        text, ligatures = settle_spans(text, spans, reference)
        if ligatures:
            notes.append(f"{ligatures} right-to-left ligatures put in logical order (as pypdf)")
        text, words = settle_words(text, reference)
        if words:
            notes.append(f"{words} right-to-left words put in logical order (as pypdf)")
        return text, notes

    def _best(
        self,
        page: Any,
        index: int,
        readings: list[tuple[str, str, float | None, Verdict]],
        *,
        texts: bool,
    ) -> PageReading:
        warnings = []
        first = readings[0][3]
        if first.reason == "no text":
            warnings.append("no text layer")
        elif first.reason is not None:
            warnings.append(f"text layer not trusted ({first.reason})")
        readers: list[tuple[str, Callable[[int], str]]] = []
        if texts and self._options.mode != "always":
            readers = [("pypdf", self._pypdf_text), ("pdfplumber", self._plumber_text)]
        for name, reader in readers:
            try:
                text = reader(index)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - a fallback that fails is one reading less
                warnings.append(f"{name} failed ({type(exc).__name__}: {exc})"[:300])
                continue
            verdict = assess(text)
            readings.append((text, name, None, verdict))
            if verdict.trusted:
                break
        best = max(readings, key=lambda r: score(r[0], r[3], r[2]))
        always = self._options.mode == "always"
        if self._engine is not None and (always or not best[3].trusted):
            ocr = self._ocr(page, warnings)
            if ocr is not None:
                readings.append(ocr)
                # "always" takes OCR's reading whenever it found reliable text.
                if always and ocr[0]:
                    best = ocr
                else:
                    best = max(readings, key=lambda r: score(r[0], r[3], r[2]))
        text, extractor, confidence, verdict = best
        if extractor != FAST:
            warnings.append(f"read by {extractor}")
        elif verdict.reason is not None and verdict.reason != "no text":
            warnings.append("no reader did better; the text layer is kept")
        return PageReading(text, extractor, confidence, warnings)

    def _ocr(self, page: Any, warnings: list[str]) -> tuple[str, str, float | None, Verdict] | None:
        assert self._engine is not None
        try:
            if self._languages is None:
                self._languages, notes = self._engine.resolve_languages(self._asked_languages)
                self.document_warnings.extend(notes)
            image = self._engine.render_page(page)
            reading = self._engine.read_image(image, self._languages)
        except OcrUnavailableError as exc:
            self._engine = None  # said once per document, not once per page
            self.document_warnings.append(str(exc))
            warnings.append("OCR not available")
            return None
        if reading.rotated:
            warnings.append(f"OCR: the page was turned {reading.rotated} degrees; read upright")
        if reading.deskewed:
            warnings.append(f"OCR: straightened by {reading.deskewed:g} degrees")
        if reading.text and reading.confidence < self._options.min_confidence:
            warnings.append(f"OCR text dropped: confidence {reading.confidence:.2f} too low")
            return None
        return (reading.text, "ocr", round(reading.confidence, 3), assess(reading.text))

    def _pypdf_text(self, index: int) -> str:
        if self._pypdf_pages is None:
            reader = pypdf.PdfReader(str(self._path), strict=False)
            if reader.is_encrypted:
                reader.decrypt(self._password or "")
            self._pypdf_pages = reader.pages
        text: str = self._pypdf_pages[index].extract_text()
        return text

    def _plumber_text(self, index: int) -> str:
        if self._plumber is None:
            import pdfplumber  # imported by the first page that needs it: ~0.1 s

            self._plumber = pdfplumber.open(self._path, password=self._password or "")
        page = self._plumber.pages[index]
        try:
            text = str(page.extract_text() or "")
        finally:
            page.close()
        # pdfminer writes a glyph it cannot map as "(cid:N)": letters, digits and brackets that
        # would pass the quality check as text. It is an unknown character: say so.
        return _CID.sub("\ufffd", text) if "(cid:" in text else text

    def close(self) -> None:
        if self._plumber is not None:
            self._plumber.close()
            self._plumber = None
        self._pypdf_pages = None


def _object_kinds(page: Any) -> set[int]:
    raw = page.raw
    return {
        pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(raw, i))
        for i in range(pdfium_c.FPDFPage_CountObjects(raw))
    }
