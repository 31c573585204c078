"""DOCX text that python-docx's paragraph text does not see (issue 8 of the extractor sweep).

Each document is built here: python-docx for the package, raw WordprocessingML for what it cannot
write. Each test failed before its fix.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import docx
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from services.extractor.extraction.collector import PageCollector
from services.extractor.extraction.dispatch import extract_pages
from services.extractor.extraction.limits import ExtractionLimits
from services.extractor.extraction.pages import PageText
from services.extractor.extraction.word import extract_docx


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def _paragraph(inner: str) -> Any:
    return parse_xml(f"<w:p {nsdecls('w')}>{inner}</w:p>")


def _text(document: Any, path: Path) -> str:
    document.save(str(path))
    (page,) = extract_pages(path)
    return page


def _field(instruction: str, result: str) -> str:
    """A complex field: begin, instruction, separate, result, end, each in its own run."""
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve">{instruction}</w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"{_run(result)}"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


TRACKED = 'w:id="{}" w:author="A" w:date="2024-01-01T00:00:00Z"'

INLINE_CASES = {
    "tracked": (
        _run("The contract value is ")
        + f"<w:del {TRACKED.format(1)}><w:r><w:delText>ten</w:delText></w:r></w:del>"
        + f"<w:ins {TRACKED.format(2)}>{_run('twenty')}</w:ins>"
        + _run(" thousand euros.")
    ),
    "moved": (
        f"<w:moveFrom {TRACKED.format(3)}>{_run('OLD PLACE ')}</w:moveFrom>"
        + _run("Moved: ")
        + f"<w:moveTo {TRACKED.format(4)}>{_run('new place')}</w:moveTo>"
    ),
    "controls": (
        _run("Customer name: ")
        + '<w:sdt><w:sdtPr><w:alias w:val="Name"/></w:sdtPr>'
        + f"<w:sdtContent>{_run('Jane Q. Public')}</w:sdtContent></w:sdt>"
        + _run(", invoice total: ")
        + f'<w:fldSimple w:instr=" MERGEFIELD Total ">{_run("1,234.00 EUR")}</w:fldSimple>'
    ),
    "wrappers": (
        _run("Meeting in ")
        + '<w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="City">'
        + f"{_run('Seattle')}</w:smartTag>"
        + _run(" on ")
        + f'<w:customXml w:element="day">{_run("Monday")}</w:customXml>'
        + _run(", ")
        + f'<w:dir w:val="rtl">{_run("مرحبا")}</w:dir>'
        + _run(" ")
        + f'<w:bdo w:val="ltr">{_run("ok")}</w:bdo>'
        + f'<w:hyperlink w:anchor="x"><w:ins {TRACKED.format(5)}>{_run(".")}</w:ins></w:hyperlink>'
    ),
    "fields": (
        _run("Page ")
        + _field(r" PAGE \* MERGEFORMAT ", "7")
        + _run(" of ")
        # A field nested in another's instruction is part of that instruction: not text.
        + '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        + '<w:r><w:instrText xml:space="preserve"> IF </w:instrText></w:r>'
        + _field(" MERGEFIELD Pages ", "NESTED RESULT")
        + '<w:r><w:instrText xml:space="preserve"> &gt; 1 "many" "one" </w:instrText></w:r>'
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + _run("many")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    ),
    "breaks": (
        "<w:r><w:t>tab</w:t><w:tab/><w:t>line</w:t><w:br/><w:t>return</w:t><w:cr/>"
        '<w:t>page.</w:t><w:br w:type="page"/><w:t>Column</w:t><w:br w:type="column"/>'
        "<w:t>end</w:t></w:r>"
    ),
}


def test_text_in_inline_wrappers_is_read_in_order(tmp_path: Path) -> None:
    document = docx.Document()
    body = document.element.body
    for inner in INLINE_CASES.values():
        body.sectPr.addprevious(_paragraph(inner))
    assert _text(document, tmp_path / "inline.docx").split("\n") == [
        "The contract value is twenty thousand euros.",
        "Moved: new place",
        "Customer name: Jane Q. Public, invoice total: 1,234.00 EUR",
        "Meeting in Seattle on Monday, مرحبا ok.",
        "Page 7 of many",
        "tab\tline",
        "return",
        "page.",
        "Column",
        "end",
    ]


def test_headers_read_inline_wrappers_too(tmp_path: Path) -> None:
    document = docx.Document()
    document.sections[0].header.paragraphs[0]._p.append(
        parse_xml(f"<w:ins {nsdecls('w')} {TRACKED.format(1)}>{_run('Inserted header')}</w:ins>")
    )
    document.add_paragraph("Body")
    assert _text(document, tmp_path / "header.docx") == "Inserted header\nBody"


def test_block_level_content_controls_and_custom_xml_are_read(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("before")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "a", "b"
    control = parse_xml(f"<w:sdt {nsdecls('w')}><w:sdtPr/><w:sdtContent/></w:sdt>")
    table._tbl.addprevious(control)
    content = control[1]
    content.append(_paragraph(_run("in a content control")))
    content.append(table._tbl)
    custom = parse_xml(f'<w:customXml {nsdecls("w")} w:element="clause"/>')
    custom.append(_paragraph(_run("in custom XML")))
    document.element.body.sectPr.addprevious(custom)
    document.add_paragraph("after")
    assert _text(document, tmp_path / "blocks.docx").split("\n") == [
        "before",
        "in a content control",
        "a | b",
        "in custom XML",
        "after",
    ]


SHAPES = (
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)


def _box(*paragraphs: str) -> str:
    """A text box's content: one paragraph for each string of runs."""
    return "<w:txbxContent>" + "".join(f"<w:p>{p}</w:p>" for p in paragraphs) + "</w:txbxContent>"


def _drawing(box: str) -> str:
    return (
        '<w:drawing><wp:anchor simplePos="0" relativeHeight="1" behindDoc="0" locked="0"'
        ' layoutInCell="1" allowOverlap="1"><wp:simplePos x="0" y="0"/>'
        '<wp:extent cx="2000000" cy="500000"/><wp:docPr id="1" name="Text Box 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/'
        'wordprocessingShape"><wps:wsp><wps:spPr/>'
        f"<wps:txbx>{box}</wps:txbx><wps:bodyPr/></wps:wsp></a:graphicData></a:graphic>"
        "</wp:anchor></w:drawing>"
    )


def _vml(box: str) -> str:
    return f"<w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict>"


def test_text_boxes_are_read_once_after_their_paragraph(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("before")
    # As Word writes a text box: DrawingML for readers that know it, VML as the fallback.
    both = _box(_run("In the box,"), _run("its second line"))
    modern = (
        _run("Anchor. ")
        + f'<w:r><mc:AlternateContent><mc:Choice Requires="wps">{_drawing(both)}</mc:Choice>'
        + f"<mc:Fallback>{_vml(both)}</mc:Fallback></mc:AlternateContent></w:r>"
        + _run("Anchor goes on.")
    )
    legacy = _run("Legacy anchor.") + f"<w:r>{_vml(_box(_run('In a VML box')))}</w:r>"
    inner_box = f"<w:r>{_drawing(_box(_run('Inner box')))}</w:r>"
    nested = f"<w:r>{_drawing(_box(_run('Outer box') + inner_box))}</w:r>"
    empty = f"<w:r>{_vml(_box())}</w:r>"
    for runs in (modern, legacy, nested, empty):
        paragraph = parse_xml(f"<w:p {nsdecls('w')} {SHAPES}>{runs}</w:p>")
        document.element.body.sectPr.addprevious(paragraph)
    document.add_paragraph("after")
    assert _text(document, tmp_path / "boxes.docx").split("\n") == [
        "before",
        "Anchor. Anchor goes on.",
        "In the box,",
        "its second line",
        "Legacy anchor.",
        "In a VML box",
        "",  # a paragraph holding only a text box
        "Outer box",
        "Inner box",
        "",
        "after",
    ]


def _notes(kind: str, *notes: str) -> bytes:
    """A footnotes or endnotes part: the separator notes Word writes first, then ``notes`` (the
    XML of each one's paragraphs), numbered from 1."""
    special = (
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/>'
        f"</w:r></w:p></w:{kind}>"
        f'<w:{kind} w:type="continuationNotice" w:id="-2"><w:p>{_run("(continued)")}</w:p>'
        f"</w:{kind}>"
    )
    numbered = "".join(f'<w:{kind} w:id="{i}">{xml}</w:{kind}>' for i, xml in enumerate(notes, 1))
    return f"<w:{kind}s {nsdecls('w')}>{special}{numbered}</w:{kind}s>".encode()


def _add_part(document: Any, name: str, content_type: str, reltype: str, blob: bytes) -> None:
    part = Part(PackURI(f"/word/{name}"), content_type, blob, document.part.package)
    document.part.relate_to(part, reltype)


def _reference(kind: str, number: int) -> str:
    return f'<w:r><w:{kind}Reference w:id="{number}"/></w:r>'


def _noted_document(endnotes: bytes) -> Any:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Header"
    document.sections[0].footer.paragraphs[0].text = "Footer"
    body = document.element.body
    # The first footnote is referred to twice; it is still read once.
    for runs in (
        _run("Body one") + _reference("footnote", 1) + _reference("endnote", 1),
        _run("Body two") + _reference("footnote", 2) + _reference("footnote", 1),
    ):
        body.sectPr.addprevious(_paragraph(runs))
    footnotes = _notes(
        "footnote",
        "<w:p><w:r><w:footnoteRef/></w:r>" + _run(" First footnote.") + "</w:p>",
        f"<w:p>{_run('Second')}</w:p><w:p>{_run('footnote.')}</w:p>",
    )
    _add_part(document, "footnotes.xml", CT.WML_FOOTNOTES, RT.FOOTNOTES, footnotes)
    _add_part(document, "endnotes.xml", CT.WML_ENDNOTES, RT.ENDNOTES, endnotes)
    return document


def test_footnotes_and_endnotes_follow_the_body_once(tmp_path: Path) -> None:
    inserted = f"<w:ins {TRACKED.format(9)}>{_run('inserted ')}</w:ins>"
    endnote = f"<w:p>{_run('Endnote with an ')}{inserted}{_run('word.')}</w:p>"
    document = _noted_document(_notes("endnote", endnote))
    assert _text(document, tmp_path / "notes.docx").split("\n") == [
        "Header",
        "Body one",
        "Body two",
        "First footnote.",  # without the space Word puts after the number
        "Second",
        "footnote.",
        "Endnote with an inserted word.",
        "Footer",
    ]


def test_broken_notes_are_left_out_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "broken-notes.docx"
    _noted_document(b"<w:endnotes>not closed").save(str(path))
    pages: list[PageText] = []
    limits = ExtractionLimits()
    extract_docx(
        path, limits, PageCollector(limits, lambda p, _: pages.append(p), lambda _, __: None)
    )
    (page,) = pages
    assert page.text.split("\n")[2:6] == ["Body two", "First footnote.", "Second", "footnote."]
    assert page.text.endswith("Footer")
    (warning,) = page.warnings
    assert warning.startswith("endnotes not read (")


def _as_strict(transitional: Path, strict: Path) -> Path:
    """``transitional`` saved as Word's "Strict Open XML Document" names it: every
    namespace and relationship type under purl.oclc.org."""
    names = {
        b"http://schemas.openxmlformats.org/wordprocessingml/2006/main": (
            b"http://purl.oclc.org/ooxml/wordprocessingml/main"
        ),
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships": (
            b"http://purl.oclc.org/ooxml/officeDocument/relationships"
        ),
    }
    with zipfile.ZipFile(transitional) as source, zipfile.ZipFile(strict, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            for old, new in names.items():
                data = data.replace(old, new)
            target.writestr(member.filename, data)
    return strict


def test_a_strict_open_xml_document_is_read(tmp_path: Path) -> None:
    """python-docx finds no document in a Strict package (it failed "corrupt")."""
    document = docx.Document()
    document.add_paragraph("Strict body text")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "left", "right"
    document.sections[0].header.paragraphs[0].text = "Strict header"
    document.save(str(tmp_path / "plain.docx"))
    strict = _as_strict(tmp_path / "plain.docx", tmp_path / "strict.docx")
    assert b"purl.oclc.org" in zipfile.ZipFile(strict).read("_rels/.rels")
    (page,) = extract_pages(strict)
    assert page == "Strict header\nStrict body text\nleft | right"
