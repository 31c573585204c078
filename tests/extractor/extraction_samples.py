"""Sample documents built by the tests, and checks shared by several test modules."""

from __future__ import annotations

import contextlib
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped, unused-ignore]

from services.extractor.extraction import ExtractorPool

# The corpus lives beside the repository (../shared/corpus), wherever the repository is cloned.
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
HEALTHY_DOC = CORPUS / "pdf" / "scotus-transcript-p1.pdf"
HEALTHY_PHRASE = "Official - Subject to Final"


async def assert_serves(pool: ExtractorPool, job_id: str = "healthy") -> None:
    """After a hostile case: an ordinary document still goes through the same pool."""
    result = await pool.extract(job_id, HEALTHY_DOC)
    assert HEALTHY_PHRASE in result.text


def pdf_bytes(pages: list[str | None], *, root: int = 1) -> bytes:
    """A small valid PDF written by hand: one Helvetica line per page (None: a blank page).

    ``root`` is the object number the trailer names as the catalog (1 is right; anything else
    makes a file pdfium refuses and pypdf repairs).
    """
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return assemble_pdf(objects, root)


def unmapped_cid_pdf() -> bytes:
    """One page in a composite font with no Unicode mapping (Identity-H, no ToUnicode, not
    embedded): pdfium and pypdf read the glyph ids as punctuation, pdfminer as "(cid:N)"."""
    stream = b"BT /F1 24 Tf 72 720 Td <0021002200230024002500260027> Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /Unmapped /Encoding /Identity-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Unmapped /CIDSystemInfo "
        b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /Unmapped /Flags 4 /FontBBox [0 0 1000 1000] "
        b"/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>",
    ]
    return assemble_pdf(objects, 1)


def many_pages_pdf(count: int) -> bytes:
    """``count`` blank pages sharing one empty content stream: ~60 bytes a page."""
    kids = " ".join(f"{4 + i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Length 0 >>\nstream\n\nendstream",
    ]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"
    objects.extend(page for _ in range(count))
    return assemble_pdf(objects, 1)


def assemble_pdf(objects: list[bytes], root: int) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def zip_bomb_docx(path: Path, template: Path, inflated_mb: int) -> Path:
    """A real DOCX plus one member that inflates to ``inflated_mb`` MiB of zeros (~4 KiB each
    MiB once deflated)."""
    # Level 1: compressing the zeros takes well under a second.
    with (
        zipfile.ZipFile(template) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb,
    ):
        for info in source.infolist():
            bomb.writestr(info, source.read(info))
        with bomb.open("word/media/zeros.bin", "w", force_zip64=True) as out:
            chunk = bytes(2**20)
            for _ in range(inflated_mb):
                out.write(chunk)
    return path


@contextlib.contextmanager
def peak_rss(process: psutil.Process) -> Iterator[list[int]]:
    """Polls ``process``'s resident size every 5 ms; the list holds the peak in bytes."""
    peak = [0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield peak
    finally:
        stop.set()
        poller.join()
