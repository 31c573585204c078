"""DOCX: headers, body (paragraphs, headings, tables), footnotes, endnotes and footers as one
page, in reading order.

python-docx loads every part of the package into memory, so the archive's uncompressed size is
checked first (zip bombs) by inflating every member, in bounded steps, up to the limit. The
sizes the zip declares are no bound: ``zipfile`` inflates a member's whole compressed data in
one call before it cuts the result to the declared size, so a 1 MB file declaring 5 KB for a
1 GB member takes 1 GB of memory to read.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import qn
from docx.table import Table
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from shared.reasons import ReasonCode

from .collector import DocumentInfo, PageCollector, Rows, clean_field
from .csv_table import CELL_SEPARATOR
from .detect import DOCX
from .errors import ExtractionError
from .limits import ExtractionLimits

_P, _TBL = qn("w:p"), qn("w:tbl")
_BLOCKS = frozenset((_P, _TBL))
# A content control (<w:sdt>) holds its blocks in <w:sdtContent>, beside its properties.
_BLOCK_WRAPPERS = frozenset((qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")))


def check_uncompressed_size(path: Path, limits: ExtractionLimits) -> None:
    """Refuses an archive that inflates past the limit; reads it, never trusts it."""
    cap = limits.max_docx_uncompressed_bytes
    try:
        with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
            total = 0
            for info in archive.infolist():
                total += _inflated_size(raw, info, cap - total)
    except _TooLargeError:
        raise ExtractionError(
            ReasonCode.TOO_LARGE,
            f"The DOCX inflates to more than {cap} bytes; at most {cap} are accepted.",
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as exc:
        message = f"The DOCX archive cannot be read: {exc}"
        raise ExtractionError(ReasonCode.CORRUPT, message) from exc


class _TooLargeError(Exception):
    pass


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... file name length, extra field length
_STEP = 2**20


def _inflated_size(raw: BinaryIO, info: zipfile.ZipInfo, budget: int) -> int:
    """What ``zipfile`` could inflate from this member's compressed bytes (the ones it reads),
    counted chunk by chunk; raises _TooLargeError past ``budget`` bytes."""
    if info.flag_bits & 0x1:
        raise ValueError(f"{info.filename} is encrypted")
    raw.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise ValueError(f"no local header for {info.filename}")
    raw.seek(name_length + extra_length, 1)
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size > budget:
            raise _TooLargeError
        return info.compress_size
    if info.compress_type != zipfile.ZIP_DEFLATED:  # the only method DOCX writers use
        raise ValueError(f"{info.filename} uses compression method {info.compress_type}")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    left, total = info.compress_size, 0
    while left > 0 and not inflater.eof:
        chunk = raw.read(min(_STEP, left))
        if not chunk:
            raise EOFError(f"{info.filename} is truncated")
        left -= len(chunk)
        while chunk:
            # max_length bounds each step's output: a bomb never sits in memory whole.
            total += len(inflater.decompress(chunk, _STEP))
            if total > budget:
                raise _TooLargeError
            chunk = inflater.unconsumed_tail
    return total


def extract_docx(path: Path, limits: ExtractionLimits, out: PageCollector) -> DocumentInfo:
    check_uncompressed_size(path, limits)
    out.expect_pages(1)
    reader = _StoryReader()
    warnings: list[str] = []
    try:
        document = docx.Document(_as_transitional(path))
        headers = _header_footer_texts(document, footers=False, reader=reader)
        # Only body tables are data; tables in headers and footers are page layout (their
        # text is kept).
        body = reader.blocks_text(document.element.body, document.part, collect=True)
        # Notes are printed at the foot of the page or the end of the text: above the footer.
        notes = _notes_texts(document, reader, warnings)
        footers = _header_footer_texts(document, footers=True, reader=reader)
    except MemoryError:
        raise  # the worker turns it into MEMORY_LIMIT
    except Exception as exc:  # python-docx raises anything from KeyError to XMLSyntaxError
        raise ExtractionError(ReasonCode.CORRUPT, f"The DOCX cannot be parsed: {exc}") from exc
    text = "\n".join(part for part in (*headers, body, *notes, *footers) if part)
    out.add_page(text, reader.tables, warnings=warnings)
    core = document.core_properties
    return DocumentInfo(
        detected_type=DOCX,
        extractor="python-docx",
        title=clean_field(core.title),
        author=clean_field(core.author),
    )


# ISO 29500 Strict (Word's "Strict Open XML Document") names its XML and relationship types
# under purl.oclc.org; python-docx knows only the transitional names, and finds no document in
# a Strict package. For reading text the two differ in these names only.
_STRICT_NAMES = (
    (b"http://purl.oclc.org/ooxml/wordprocessingml/main",
     b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
    (b"http://purl.oclc.org/ooxml/officeDocument/math",
     b"http://schemas.openxmlformats.org/officeDocument/2006/math"),
    (b"http://purl.oclc.org/ooxml/officeDocument/sharedTypes",
     b"http://schemas.openxmlformats.org/officeDocument/2006/sharedTypes"),
    (b"http://purl.oclc.org/ooxml/drawingml/main",
     b"http://schemas.openxmlformats.org/drawingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing",
     b"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"),
    (b"http://purl.oclc.org/ooxml/drawingml/picture",
     b"http://schemas.openxmlformats.org/drawingml/2006/picture"),
)  # fmt: skip
_STRICT_MARK = b"http://purl.oclc.org/ooxml/"


def _as_transitional(path: Path) -> str | io.BytesIO:
    """The package as python-docx can open it: the file itself, or a Strict package with its
    names made transitional, in memory (its size was checked before: zip bombs)."""
    with zipfile.ZipFile(path) as package:
        try:
            strict = _STRICT_MARK in package.read("_rels/.rels")
        except KeyError:
            strict = False  # no package relationships: python-docx says what is wrong
        if not strict:
            return str(path)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rewritten:
            for member in package.infolist():
                data = package.read(member)
                if member.filename.endswith((".xml", ".rels")):
                    for strict_name, transitional in _STRICT_NAMES:
                        data = data.replace(strict_name, transitional)
                rewritten.writestr(member.filename, data)
    out.seek(0)
    return out


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


_NOTES = ((RT.FOOTNOTES, "footnotes", qn("w:footnote")), (RT.ENDNOTES, "endnotes", qn("w:endnote")))
_NOTE_TYPE = qn("w:type")
# The rule drawn above the notes and its continuations hold no text of the document.
_NOT_NOTES = frozenset(("separator", "continuationSeparator", "continuationNotice"))


def _notes_texts(document: Any, reader: _StoryReader, warnings: list[str]) -> list[str]:
    """Each footnote, then each endnote, once, in the order of its part.

    python-docx does not parse these parts. A broken one is left out with a warning: the rest of
    the document is still worth having (and was all there was before notes were read).
    """
    texts: list[str] = []
    for reltype, name, tag in _NOTES:
        rels = document.part.rels.values()
        part = next(
            (r.target_part for r in rels if r.reltype == reltype and not r.is_external), None
        )
        if part is None:
            continue
        try:
            root = parse_xml(part.blob)
        except etree.XMLSyntaxError as exc:
            warnings.append(f"{name} not read ({exc})")
            continue
        for note in root.iterchildren(tag):
            if note.get(_NOTE_TYPE) not in _NOT_NOTES:
                # Word puts a space between the note's number (a reference mark) and its text.
                texts.append(reader.blocks_text(note, part).lstrip(" \t"))
    return texts


class _StoryReader:
    """Text of block containers; collects the rows of top-level tables when asked.

    Nested tables and text boxes are read through recursion; python-docx's XML parser refuses
    documents nested deeper than 256 elements, which bounds it.
    """

    def __init__(self) -> None:
        self.tables: list[Rows] = []

    def blocks_text(self, container: Any, parent: Any, *, collect: bool = False) -> str:
        lines: list[str] = []
        for block in _blocks(container):
            if block.tag == _P:
                boxes: list[Any] = []
                lines.append(_paragraph_text(block, boxes))
                # A text box is drawn where it is anchored: its text follows the paragraph.
                lines.extend(text for box in boxes if (text := self.blocks_text(box, parent)))
            else:
                rows = self._table_rows(Table(block, parent))
                if collect:
                    self.tables.append(rows)
                lines.extend(_row_line(row) for row in rows)
        return "\n".join(lines).strip("\n")

    def _table_rows(self, table: Table) -> Rows:
        # A merged cell appears in several grid positions: its text is read once. The key is
        # the <w:tc> element itself, held by the dict: lxml hands out short-lived proxies, and
        # the id() of one that was freed is soon another cell's.
        texts: dict[Any, str] = {}
        rows: Rows = []
        for row in table.rows:
            cells: list[str | None] = []
            for cell in row.cells:
                element = cell._tc
                if element not in texts:
                    texts[element] = self.blocks_text(element, cell)
                cells.append(texts[element])
            rows.append(cells)
        return rows


def _row_line(row: list[str | None]) -> str:
    # Merged cells repeat across the grid; say their text once per row.
    unique = [cell for i, cell in enumerate(row) if i == 0 or cell != row[i - 1]]
    return CELL_SEPARATOR.join((cell or "").replace("\n", " ") for cell in unique)


def _blocks(container: Any) -> Iterator[Any]:
    """The <w:p> and <w:tbl> of a container in document order, looking into content controls
    and custom XML."""
    pending = [iter(container.iterchildren())]
    while pending:
        child = next(pending[-1], None)
        if child is None:
            pending.pop()
        elif child.tag in _BLOCKS:
            yield child
        elif child.tag in _BLOCK_WRAPPERS:
            pending.append(iter(child.iterchildren()))


# What each element of a paragraph is to its text. The paragraph is walked once, element by
# element: python-docx's Paragraph.text runs an XPath query per run (seconds on a document of
# 300,000 runs) and sees only the runs directly in <w:p> or <w:hyperlink>.
_DESCEND, _TEXT, _CHAR, _FIELD_CHAR, _ALTERNATIVES, _SHAPE = range(6)
# Runs and what wraps them: tracked insertions and moves (their new place), content controls,
# simple fields (the result; the instruction is an attribute), smart tags, custom XML,
# bidirectional embeddings. Not <w:del> or <w:moveFrom>: that text is deleted; nor
# <w:instrText>, a field's instruction.
_INLINE_WRAPPERS = (
    "w:r",
    "w:hyperlink",
    "w:ins",
    "w:moveTo",
    "w:sdt",
    "w:sdtContent",
    "w:fldSimple",
    "w:smartTag",
    "w:customXml",
    "w:dir",
    "w:bdo",
)
# The text python-docx gives these, except that every break is a line break: python-docx makes
# a page or column break "", which glues the words on either side together.
_CHARS = {
    qn("w:br"): "\n",
    qn("w:cr"): "\n",
    qn("w:tab"): "\t",
    qn("w:ptab"): "\t",
    qn("w:noBreakHyphen"): "-",
}
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_ALTERNATE_CONTENT, _CHOICE, _FALLBACK = _MC + "AlternateContent", _MC + "Choice", _MC + "Fallback"
_TEXT_BOX = qn("w:txbxContent")
_INLINE = {
    **{qn(tag): _DESCEND for tag in _INLINE_WRAPPERS},
    **dict.fromkeys(_CHARS, _CHAR),
    qn("w:t"): _TEXT,
    qn("w:fldChar"): _FIELD_CHAR,
    _ALTERNATE_CONTENT: _ALTERNATIVES,
    # Drawings and legacy VML pictures: where text boxes are.
    qn("w:drawing"): _SHAPE,
    qn("w:pict"): _SHAPE,
}
_FIELD_CHAR_TYPE = qn("w:fldCharType")


def _paragraph_text(paragraph: Any, boxes: list[Any]) -> str:
    """The paragraph's text; the <w:txbxContent> of its text boxes are added to ``boxes``."""
    parts: list[str] = []
    # Complex fields: begin, instruction, separate, result, end; they nest. Only results are
    # text, and only when no field around them is still in its instruction. The state is the
    # paragraph's own: a field whose end never comes hides no more than the rest of its
    # paragraph (a result may run on over paragraphs, and is shown there).
    fields: list[bool] = []  # for each open field: has its result begun
    in_instruction = 0
    pending = [iter(paragraph.iterchildren())]
    while pending:
        child = next(pending[-1], None)
        if child is None:
            pending.pop()
            continue
        kind = _INLINE.get(child.tag)
        if kind is None:
            continue
        if kind == _DESCEND:
            pending.append(iter(child.iterchildren()))
        elif kind == _ALTERNATIVES:
            pending.append(_one_alternative(child))
        elif kind == _FIELD_CHAR:
            mark = child.get(_FIELD_CHAR_TYPE)
            if mark == "begin":
                fields.append(False)
                in_instruction += 1
            elif mark == "separate" and fields and not fields[-1]:
                fields[-1] = True
                in_instruction -= 1
            elif mark == "end" and fields and not fields.pop():
                in_instruction -= 1
        elif in_instruction:
            continue
        elif kind == _TEXT:
            parts.append(child.text or "")
        elif kind == _SHAPE:
            _find_text_boxes(child, boxes)
        else:
            parts.append(_CHARS[child.tag])
    return "".join(parts)


def _one_alternative(alternate_content: Any) -> Iterator[Any]:
    """The children of one branch of <mc:AlternateContent>. Each branch draws the same thing (a
    text box in DrawingML, then again in VML for older readers): reading both would say its text
    twice. A reader takes the first branch it understands; Word understands the first it wrote."""
    branch = next(alternate_content.iterchildren(_CHOICE, _FALLBACK), None)
    return iter(() if branch is None else branch.iterchildren())


def _find_text_boxes(shape: Any, boxes: list[Any]) -> None:
    """Adds the shape's outermost <w:txbxContent> to ``boxes``, in document order; one nested in
    another is read with the paragraphs of the outer one."""
    pending = [iter(shape.iterchildren())]
    while pending:
        child = next(pending[-1], None)
        if child is None:
            pending.pop()
        elif child.tag == _TEXT_BOX:
            boxes.append(child)
        elif child.tag == _ALTERNATE_CONTENT:
            pending.append(_one_alternative(child))
        else:
            pending.append(iter(child.iterchildren()))
