"""Formats are told apart by content, not by name; each is read the way the issue asks."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from services.extractor.extraction import ExtractionError, ExtractorPool
from shared.reasons import ReasonCode

from .extraction_samples import pdf_bytes

Write = Callable[[str, bytes | str], Path]

PROSE = (
    "The committee met on Tuesday to review the budget for the coming year. "
    "Several members asked for more time to read the proposal before the vote. "
)


async def test_pdf_is_recognised_whatever_its_name(pool: ExtractorPool, write: Write) -> None:
    path = write("report.txt", pdf_bytes(["Hello from a PDF", None, "Third page"]))
    result = await pool.extract("pdf-as-txt", path)
    assert result.detected_type == "application/pdf"
    assert [p.text for p in result.pages] == ["Hello from a PDF", "", "Third page"]
    assert [p.empty for p in result.pages] == [False, True, False]
    assert result.metadata().empty_pages == [2]


async def test_a_pdf_behind_junk_and_a_text_that_mentions_one(
    pool: ExtractorPool, write: Write
) -> None:
    junk = b"X-Mailer: junk\r\n" + bytes(range(256)) * 2
    result = await pool.extract("pdf-junk", write("mail.bin", junk + pdf_bytes(["Behind junk"])))
    assert (result.detected_type, result.text) == ("application/pdf", "Behind junk")
    note = "A PDF file starts with the header %PDF-1.7 and a binary comment line.\n"
    result = await pool.extract("pdf-mention", write("note.txt", note))
    assert (result.detected_type, result.text) == ("text/plain", note)


async def test_docx_is_recognised_whatever_its_name(
    pool: ExtractorPool, corpus: Path, write: Write
) -> None:
    path = write("upload.bin", (corpus / "docx" / "test.docx").read_bytes())
    result = await pool.extract("docx-as-bin", path)
    assert result.extractor == "python-docx"
    assert "python-docx was here!" in result.text


async def test_pypdf_reads_what_pdfium_refuses(pool: ExtractorPool, write: Write) -> None:
    # The trailer names a catalog object that does not exist: pdfium gives up, pypdf searches.
    path = write("bad-root.pdf", pdf_bytes(["Recovered by the fallback"], root=9))
    result = await pool.extract("fallback", path)
    assert result.extractor == "pypdf"
    assert "Recovered by the fallback" in result.text


async def test_plain_text_in_utf8(pool: ExtractorPool, write: Write) -> None:
    result = await pool.extract("utf8", write("notes", PROSE * 3 + "Ünïcödé ✓\r\n"))
    assert (result.detected_type, result.extractor) == ("text/plain", "text")
    assert "Ünïcödé ✓" in result.text and "\r" not in result.text
    assert result.language == "en"
    assert len(result.pages) == 1


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-16", "Grüße aus Köln! " * 20),  # with a byte-order mark
        ("utf-16-le", "Grüße aus Köln! " * 20),  # without one
        ("shift_jis", "これは日本語のテキストです。文字コードの判定をテストします。" * 5),
        ("koi8-r", "Это русский текст в кодировке KOI8-R для проверки. " * 5),
    ],
)
async def test_text_in_other_encodings(
    pool: ExtractorPool, write: Write, encoding: str, text: str
) -> None:
    result = await pool.extract(f"enc-{encoding}", write("doc", text.encode(encoding)))
    assert result.detected_type == "text/plain"
    assert result.text == text


async def test_markdown(pool: ExtractorPool, write: Write) -> None:
    doc = (
        "# Release notes\n\nThe **new** importer is [documented](https://example.org).\n\n- fast\n"
    )
    result = await pool.extract("md", write("README", doc))
    assert result.detected_type == "text/markdown"
    assert "The **new** importer" in result.text


async def test_html_keeps_visible_text_only(pool: ExtractorPool, write: Write) -> None:
    doc = """<!DOCTYPE html><html><head><title>Quarterly  report</title>
    <meta name="author" content="Ana Lima"><meta charset="iso-8859-1">
    <style>body { color: red }</style><script>var secret = "<p>hidden</p>";</script></head>
    <body><h1>Résumé</h1><p>First&nbsp;paragraph   with
    spaces.<br>Second line &amp; more.</p><noscript>Enable JS</noscript>
    <template><p>inert</p></template><ul><li>one</li><li>two</li></ul></body></html>"""
    result = await pool.extract("html", write("page.dat", doc))
    assert (result.detected_type, result.extractor) == ("text/html", "html")
    assert result.text == "Résumé\nFirst paragraph with spaces.\nSecond line & more.\none\ntwo"
    assert (result.title, result.author) == ("Quarterly report", "Ana Lima")


async def test_csv_keeps_rows_and_columns(pool: ExtractorPool, write: Write) -> None:
    doc = 'name,city,amount\n"Smith, Ann",Paris,12.50\nLee,"New\nYork",7\n'
    result = await pool.extract("csv", write("data.txt", doc))
    assert (result.detected_type, result.extractor) == ("text/csv", "csv")
    assert len(result.tables) == 1
    assert result.tables[0].rows == [
        ["name", "city", "amount"],
        ["Smith, Ann", "Paris", "12.50"],
        ["Lee", "New\nYork", "7"],
    ]
    assert result.tables[0].page == 1
    assert result.text.splitlines()[:2] == ["name | city | amount", "Smith, Ann | Paris | 12.50"]


async def test_tab_separated_values(pool: ExtractorPool, write: Write) -> None:
    result = await pool.extract("tsv", write("t", "a\tb\tc\n1\t2\t3\n4\t5\t6\n"))
    assert result.detected_type == "text/tab-separated-values"
    assert result.tables[0].rows == [["a", "b", "c"], ["1", "2", "3"], ["4", "5", "6"]]


async def test_large_csv_arrives_whole(pool: ExtractorPool, write: Write) -> None:
    rows = [[str(i), f"item {i}", str(i * 3)] for i in range(10_000)]  # several frames' worth
    result = await pool.extract("big-csv", write("big.csv", "\n".join(map(",".join, rows))))
    assert result.tables[0].rows == rows


async def test_prose_with_commas_is_not_csv(pool: ExtractorPool, write: Write) -> None:
    result = await pool.extract("prose", write("p", "Hello, world.\nGoodbye, moon.\n"))
    assert result.detected_type == "text/plain"
    assert not result.tables


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b"\x89PNG\r\n\x1a\n" + os.urandom(256), "image/png"),
        (b"\xff\xd8\xff\xe0" + os.urandom(256), "image/jpeg"),
        (b"{\\rtf1\\ansi hello}", "application/rtf"),
        (os.urandom(64 * 1024), "application/octet-stream"),
    ],
)
async def test_unsupported_types_are_named(
    pool: ExtractorPool, write: Write, content: bytes, named: str
) -> None:
    with pytest.raises(ExtractionError) as caught:
        await pool.extract(f"unsupported-{named}", write("document.pdf", content))
    assert caught.value.reason is ReasonCode.UNSUPPORTED_TYPE
    assert named in caught.value.message


async def test_zip_that_is_not_docx(pool: ExtractorPool, tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "not a word document")
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("plain-zip", path)
    assert caught.value.reason is ReasonCode.UNSUPPORTED_TYPE
    assert "application/zip" in caught.value.message


async def test_xlsx_is_named_as_such(pool: ExtractorPool, tmp_path: Path) -> None:
    path = tmp_path / "sheet.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types>spreadsheetml.sheet.main+xml</Types>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("xlsx", path)
    assert caught.value.reason is ReasonCode.UNSUPPORTED_TYPE
    assert "spreadsheetml" in caught.value.message


async def test_missing_file(pool: ExtractorPool, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("missing", tmp_path / "gone.pdf")
    assert caught.value.reason is ReasonCode.BLOB_MISSING


async def test_whitespace_only_text_completes_empty(pool: ExtractorPool, write: Write) -> None:
    result = await pool.extract("blank", write("blank.txt", "  \n\t\n"))
    assert result.text == "" and result.pages[0].empty


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


async def test_password_protected_office_file_is_encrypted(
    pool: ExtractorPool, write: Write
) -> None:
    # An encrypted DOCX is an OLE2 container holding an "EncryptedPackage" stream.
    content = OLE2 + bytes(1000) + "EncryptedPackage".encode("utf-16-le") + bytes(1000)
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("ole-encrypted", write("secret.docx", content))
    assert caught.value.reason is ReasonCode.ENCRYPTED


async def test_legacy_office_file_is_unsupported(pool: ExtractorPool, write: Write) -> None:
    with pytest.raises(ExtractionError) as caught:
        await pool.extract("ole-doc", write("old.doc", OLE2 + bytes(4000)))
    assert caught.value.reason is ReasonCode.UNSUPPORTED_TYPE
    assert "application/x-ole-storage" in caught.value.message
