"""A PDF is told by its header, wherever the spec lets it be; a text that mentions one is text."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shared.filetype import HEAD_BYTES, Kind, detect

PDF_BODY = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
)
JUNK = random.Random(7).randbytes(480)


def _kind(tmp_path: Path, content: bytes) -> Kind:
    path = tmp_path / "upload"
    path.write_bytes(content)
    return detect(path, content[:HEAD_BYTES]).kind


@pytest.mark.parametrize(
    "content",
    [
        PDF_BODY,
        b"\xef\xbb\xbf" + PDF_BODY,  # a byte-order mark before it
        b"\r\n  " + PDF_BODY,
        b"X-Mailer: junk\r\n" + JUNK + PDF_BODY,  # binary junk, not at a line start
        JUNK[:20].replace(b"\n", b"") + PDF_BODY,
        # what a server or a mail gateway left above the file
        b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n" + PDF_BODY,
        b"%PDF-2.0\n1 0 obj\n",
    ],
    ids=["at-0", "bom", "whitespace", "junk", "short-junk", "http-headers", "pdf-2.0"],
)
def test_pdfs(tmp_path: Path, content: bytes) -> None:
    assert _kind(tmp_path, content) is Kind.PDF


@pytest.mark.parametrize(
    "content",
    [
        # was routed to the PDF reader, and failed corrupt
        b"Notes on file formats\n\nA PDF file starts with the header %PDF-1.7 followed by a "
        b"binary comment line.\nThis is a plain text note, not a PDF.\n",
        "Le fichier commence par l'en-tête %PDF-1.4, puis des objets: 1 0 obj.\n".encode("cp1252"),
        b"Headers seen this week:\n%PDF-1.4\n%PDF-1.7\nand nothing else.\n",
        b"The marker %PDF- alone, with no version.\n",
    ],
    ids=["mid-sentence", "latin-1-sentence", "line-start-without-a-body", "no-version"],
)
def test_texts_that_mention_the_header(tmp_path: Path, content: bytes) -> None:
    assert _kind(tmp_path, content) is Kind.TEXT


def test_the_header_counts_only_in_the_first_1024_bytes(tmp_path: Path) -> None:
    assert _kind(tmp_path, b"\x00\x01" * 600 + PDF_BODY) is not Kind.PDF
