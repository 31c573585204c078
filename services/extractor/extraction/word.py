"""DOCX: headers, body (paragraphs, headings, tables) and footers as one page, in reading order.

python-docx loads every part of the package into memory, so the archive's uncompressed size is
checked first (zip bombs). ``zipfile`` stops inflating a member at its declared size, so the
declared sizes are a sound bound.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from shared.reasons import ReasonCode

from .collector import DocumentInfo, PageCollector, Rows, clean_field
from .csv_table import CELL_SEPARATOR
from .detect import DOCX
from .errors import ExtractionError
from .limits import ExtractionLimits

_P, _TBL, _SDT, _SDT_CONTENT = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")


def check_uncompressed_size(path: Path, limits: ExtractionLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        message = f"The DOCX archive cannot be read: {exc}"
        raise ExtractionError(ReasonCode.CORRUPT, message) from exc
    if total > limits.max_docx_uncompressed_bytes:
        raise ExtractionError(
            ReasonCode.TOO_LARGE,
            f"The DOCX inflates to {total} bytes; at most "
            f"{limits.max_docx_uncompressed_bytes} are accepted.",
        )


def extract_docx(path: Path, limits: ExtractionLimits, out: PageCollector) -> DocumentInfo:
    check_uncompressed_size(path, limits)
    out.expect_pages(1)
    reader = _StoryReader()
    try:
        document = docx.Document(str(path))
        headers = _header_footer_texts(document, footers=False, reader=reader)
        # Only body tables are data; tables in headers and footers are page layout (their
        # text is kept).
        body = reader.blocks_text(document.element.body, document.part, collect=True)
        footers = _header_footer_texts(document, footers=True, reader=reader)
    except MemoryError:
        raise  # the worker turns it into MEMORY_LIMIT
    except Exception as exc:  # python-docx raises anything from KeyError to XMLSyntaxError
        raise ExtractionError(ReasonCode.CORRUPT, f"The DOCX cannot be parsed: {exc}") from exc
    text = "\n".join(part for part in (*headers, body, *footers) if part)
    out.add_page(text, reader.tables)
    core = document.core_properties
    return DocumentInfo(
        detected_type=DOCX,
        extractor="python-docx",
        title=clean_field(core.title),
        author=clean_field(core.author),
    )


def _header_footer_texts(document: Any, *, footers: bool, reader: _StoryReader) -> list[str]:
    """Each distinct header (or footer) once, in section order.

    Only definitions a section has of its own are read: asking a *linked* header for its content
    would make python-docx add an empty definition.
    """
    texts: list[str] = []
    seen: set[str] = set()
    for section in document.sections:
        if footers:
            parts = (section.first_page_footer, section.footer, section.even_page_footer)
        else:
            parts = (section.first_page_header, section.header, section.even_page_header)
        for header_footer in parts:
            if header_footer.is_linked_to_previous:
                continue
            part = header_footer.part
            if part.partname in seen:
                continue
            seen.add(part.partname)
            texts.append(reader.blocks_text(part.element, part))
    return texts


class _StoryReader:
    """Text of block containers; collects the rows of top-level tables when asked.

    Nested tables are read through recursion; python-docx's XML parser refuses documents nested
    deeper than 256 elements, which bounds it.
    """

    def __init__(self) -> None:
        self.tables: list[Rows] = []

    def blocks_text(self, container: Any, parent: Any, *, collect: bool = False) -> str:
        lines: list[str] = []
        for block in _blocks(container, parent):
            if isinstance(block, Paragraph):
                lines.append(block.text)
            else:
                rows = self._table_rows(block)
                if collect:
                    self.tables.append(rows)
                lines.extend(_row_line(row) for row in rows)
        return "\n".join(lines).strip("\n")

    def _table_rows(self, table: Table) -> Rows:
        texts: dict[int, str] = {}  # a merged cell appears in several grid positions
        rows: Rows = []
        for row in table.rows:
            cells: list[str | None] = []
            for cell in row.cells:
                key = id(cell._tc)
                if key not in texts:
                    texts[key] = self.blocks_text(cell._tc, cell)
                cells.append(texts[key])
            rows.append(cells)
        return rows


def _row_line(row: list[str | None]) -> str:
    # Merged cells repeat across the grid; say their text once per row.
    unique = [cell for i, cell in enumerate(row) if i == 0 or cell != row[i - 1]]
    return CELL_SEPARATOR.join((cell or "").replace("\n", " ") for cell in unique)


def _blocks(container: Any, parent: Any) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables of a container in document order, looking into content controls."""
    pending = [iter(container.iterchildren())]
    while pending:
        child = next(pending[-1], None)
        if child is None:
            pending.pop()
        elif child.tag == _P:
            yield Paragraph(child, parent)
        elif child.tag == _TBL:
            yield Table(child, parent)
        elif child.tag == _SDT:
            content = child.find(_SDT_CONTENT)
            if content is not None:
                pending.append(iter(content.iterchildren()))
