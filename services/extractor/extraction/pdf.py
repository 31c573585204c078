"""PDF: pypdfium2 for the text, page by page; pypdf when pdfium cannot open the file.

pdfium (Chrome's PDF engine, in C++) reads text about 50 times faster than pdfminer-based
readers and repairs most broken cross-reference tables on its own; pypdf is slower but finds the
document's root in files pdfium gives up on (a trailer pointing nowhere).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from shared.reasons import ReasonCode

from .collector import DocumentInfo, PageCollector, clean_field
from .detect import PDF
from .errors import ExtractionError
from .limits import ExtractionLimits
from .ocr import OcrEngine
from .ocr_options import OcrOptions
from .pages import PageReading
from .pdf_fallback import PageRescue
from .pdf_rtl import RTL, Span, shared_glyph_spans
from .pdf_rulings import may_have_ruled_table
from .pdf_tables import TableFinder
from .quality import assess

# The share of the timeout that table finding may use before it stops (see pdf_tables).
TABLE_BUDGET_SHARE = 0.5


def extract_pdf(
    path: Path,
    *,
    password: str | None,
    tables: bool,
    limits: ExtractionLimits,
    out: PageCollector,
    ocr: OcrOptions,
    ocr_engine: OcrEngine | None,
    ocr_languages: str | None,
) -> DocumentInfo:
    finder = None
    try:
        document, password = _open_with_pdfium(path, password)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise _encrypted(password) from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise ExtractionError(
                ReasonCode.ENCRYPTED, "The PDF uses an unsupported encryption (security handler)."
            ) from exc
        pages, info = _open_with_pypdf(path, password, pdfium_error=str(exc))
        if tables:
            finder = _table_finder(path, password, limits, info)
        _read_pages(len(pages), partial(_pypdf_page, pages, info), out, finder)
        return info
    try:
        info = DocumentInfo(
            detected_type=PDF,
            extractor="pypdfium2",
            # The two fields used, not all eight get_metadata_dict reads ("" when absent).
            title=clean_field(document.get_metadata_value("Title")),
            author=clean_field(document.get_metadata_value("Author")),
        )
        ruled: set[int] = set()  # pages pdfium saw ruling lines on; the others need no search
        if tables:
            finder = _table_finder(path, password, limits, info)
        rescue = PageRescue(path, password, ocr, ocr_engine, ocr_languages)
        try:
            _read_pages(
                _page_count(document, path, password, limits),
                partial(_pdfium_page, document, info, ruled if tables else None, rescue),
                out,
                finder,
                ruled.__contains__,
            )
        finally:
            rescue.close()
        info.document_warnings.extend(rescue.document_warnings)
        return info
    finally:
        document.close()


def _open_with_pdfium(path: Path, password: str | None) -> tuple[Any, str | None]:
    """The document and the password that opened it: ``password``, or, when that one is
    wrong, none (the other readers must then be given none either).

    A PDF encrypted with an owner password only (to restrict printing or copying) has a blank
    user password and opens in any viewer without asking; a client that sends a password with
    every upload must not see it refused."""
    try:
        return pdfium.PdfDocument(str(path), password=password), password
    except pdfium.PdfiumError as exc:
        if not password or exc.err_code != pdfium_c.FPDF_ERR_PASSWORD:
            raise
        try:
            return pdfium.PdfDocument(str(path), password=None), None
        except pdfium.PdfiumError:
            raise exc from None


def _page_count(document: Any, path: Path, password: str | None, limits: ExtractionLimits) -> int:
    """The number of pages the page tree really holds.

    pdfium takes the page tree's ``/Count`` on trust: a 2-page file claiming 10 would read as
    10 pages, 8 of them empty, and one claiming 100,000 would be refused. A claim is checked
    where that costs nothing (does its last page exist?); a claim that fails, or is over the
    page limit, is replaced by a walk of the tree.
    """
    claimed = len(document)
    if 0 < claimed <= limits.max_pages and _page_exists(document, claimed - 1):
        return claimed
    walked = _walked_page_count(path, password)
    if walked is not None:
        return walked
    # pypdf cannot read the tree either: the pages pdfium finds, by bisection.
    low, high = 0, claimed  # pages [0, low) exist; [high, claimed) do not
    while low < high:
        middle = (low + high) // 2
        if _page_exists(document, middle):
            low = middle + 1
        else:
            high = middle
    return low


def _page_exists(document: Any, index: int) -> bool:
    size = pdfium_c.FS_SIZEF()
    # Finds the page's dictionary without parsing its content, unlike loading the page.
    return bool(pdfium_c.FPDF_GetPageSizeByIndexF(document.raw, index, ctypes.byref(size)))


def _walked_page_count(path: Path, password: str | None) -> int | None:
    """Leaves of the page tree, counted by following every /Kids (cycles and all)."""
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            reader.decrypt(password or "")
        root: Any = reader.trailer["/Root"]
        pending = [root["/Pages"]]
        seen: set[int] = set()
        count = 0
        while pending:
            node = pending.pop()
            kids = node.get("/Kids")
            if kids is None:
                count += 1
                continue
            reference = getattr(node, "indirect_reference", None)
            if reference is not None:
                if reference.idnum in seen:
                    continue  # a cycle in the tree
                seen.add(reference.idnum)
            # Reversed onto the stack: pages are met in document order (not needed for a
            # count, but it keeps the walk easy to reason about).
            pending.extend(kid.get_object() for kid in reversed(kids))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - a tree pypdf cannot walk: the caller has a fallback
        return None
    return count


def _table_finder(
    path: Path, password: str | None, limits: ExtractionLimits, info: DocumentInfo
) -> TableFinder:
    return TableFinder(path, password, limits.timeout_s * TABLE_BUDGET_SHARE, info.warnings)


def _read_pages(
    total: int,
    read_page: Callable[[int], PageReading],
    out: PageCollector,
    finder: TableFinder | None,
    worth_table_search: Callable[[int], bool] = lambda index: True,
) -> None:
    # Refuses too many pages before any is read; a worker sharing the document reads its part.
    pages = out.expect_pages(total)
    try:
        for index in pages:
            page = read_page(index)  # first: it may learn whether the page is worth a search
            found = finder.find(index) if finder and worth_table_search(index) else []
            out.add_page(
                page.text,
                found,
                extractor=page.extractor,
                ocr_confidence=page.ocr_confidence,
                warnings=page.warnings,
            )
    finally:
        if finder is not None:
            finder.close()


def _pdfium_page(
    document: Any, info: DocumentInfo, ruled: set[int] | None, rescue: PageRescue, index: int
) -> PageReading:
    try:
        page = document[index]
    except pdfium.PdfiumError as exc:
        text = rescue.text_without_pdfium(index)
        if text is not None:
            return PageReading(text, "pypdf", warnings=[f"pdfium cannot load it ({exc})"])
        info.warnings.append(f"page {index + 1} cannot be read ({exc}); reported as empty")
        return PageReading("", "pypdfium2", warnings=[f"cannot be read ({exc})"])
    try:
        text, ligatures = _pdfium_page_text(page, ruled, index)
        notes: list[str] = []
        if ligatures is not None:
            text, notes = rescue.settle_right_to_left(index, text, ligatures)
        # pdfium marks a hyphen at a line break as U+FFFE and ends lines with CRLF.
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufffe", "-")
        reading = rescue.read(page, index, text)
    finally:
        page.close()
    reading.warnings.extend(notes)
    return reading


def _pdfium_page_text(
    page: Any, ruled: set[int] | None, index: int
) -> tuple[str, list[Span] | None]:
    """pdfium's text of the page as it gives it, and where it has right-to-left ligatures
    (see pdf_rtl); None: it has no right-to-left letters."""
    if ruled is not None and may_have_ruled_table(page):
        ruled.add(index)
    textpage = page.get_textpage()
    try:
        # get_text_range keeps the line breaks pdfium infers (get_text_bounded drops some and
        # glues words together across lines).
        text: str = textpage.get_text_range()
        ligatures = shared_glyph_spans(textpage, text) if RTL.search(text) else None
    finally:
        textpage.close()
    return text, ligatures


def _open_with_pypdf(
    path: Path, password: str | None, *, pdfium_error: str
) -> tuple[Any, DocumentInfo]:
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted and (
            not password or reader.decrypt(password) == pypdf.PasswordType.NOT_DECRYPTED
        ):
            raise _encrypted(password)
        pages = reader.pages
        len(pages)  # walks the page tree: broken files fail here
        metadata = reader.metadata
        title = clean_field(metadata.title) if metadata is not None else None
        author = clean_field(metadata.author) if metadata is not None else None
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # pypdf raises many types on broken files; all mean "unreadable"
        raise ExtractionError(
            ReasonCode.CORRUPT,
            f"The PDF cannot be read (pdfium: {pdfium_error}; pypdf: {exc})",
        ) from exc
    return pages, DocumentInfo(detected_type=PDF, extractor="pypdf", title=title, author=author)


def _pypdf_page(pages: Any, info: DocumentInfo, index: int) -> PageReading:
    """pdfium could not open the file: no fallback chain (pdfium would render for OCR), but
    the page's text is still judged."""
    try:
        text: str = pages[index].extract_text()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken page is reported empty, others count
        info.warnings.append(f"page {index + 1} cannot be read ({exc}); reported as empty")
        return PageReading("", "pypdf", warnings=[f"cannot be read ({exc})"])
    verdict = assess(text)
    if verdict.trusted or verdict.reason == "no text":
        return PageReading(text, "pypdf")
    return PageReading(text, "pypdf", warnings=[f"text layer not trusted ({verdict.reason})"])


def _encrypted(password: str | None) -> ExtractionError:
    if password:
        return ExtractionError(ReasonCode.ENCRYPTED, "The PDF is encrypted; the password is wrong.")
    return ExtractionError(ReasonCode.ENCRYPTED, "The PDF is encrypted; a password is required.")
