"""What a file is, judged from its bytes (magic numbers, archive members), never its name.

Pure byte sniffing (the standard library only), so both the extractor and ingest use it: ingest
refuses at upload what the first bytes already show to be unsupported (415), the extractor
picks its reader. The two can never disagree about what is supported.
"""

from __future__ import annotations

import mmap
import re
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from shared.reasons import ReasonCode

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
OCTET_STREAM = "application/octet-stream"

HEAD_BYTES = 4096
# The PDF spec lets readers accept a header anywhere in the first 1024 bytes.
_PDF_HEADER_WINDOW = 1024
_PDF_HEADER = re.compile(rb"%PDF-\d")
_PDF_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")
# C0 controls besides whitespace: text has none, random bytes about one in nine.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_MIN_JUNK_CONTROL_SHARE = 0.02

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%!PS", "application/postscript"),
    (b"{\\rtf", "application/rtf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x7fELF", "application/x-executable"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Read at most this much of an archive member while sniffing (a member can be a bomb).
_MEMBER_SNIFF_LIMIT = 2**20


class Kind(Enum):
    PDF = "pdf"
    DOCX = "docx"
    TEXT = "text"  # some text encoding; html / csv / markdown / plain is decided after decoding
    UNSUPPORTED = "unsupported"


class FileTypeError(Exception):
    """The bytes say what the file is, and that it cannot be read (corrupt, encrypted)."""

    def __init__(self, reason: ReasonCode, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Detected:
    kind: Kind
    mime: str


def detect(path: Path, head: bytes) -> Detected:
    """Classify a file from its first bytes (``head``, up to :data:`HEAD_BYTES`)."""
    if _is_pdf(head):
        return Detected(Kind.PDF, PDF)
    if head.startswith(_ZIP_SIGNATURES):
        return _detect_zip(path)
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            if mime == "application/x-ole-storage" and _is_encrypted_office(path):
                raise FileTypeError(
                    ReasonCode.ENCRYPTED,
                    "The file is a password-protected Office document; they are not supported.",
                )
            return Detected(Kind.UNSUPPORTED, mime)
    if head[4:8] == b"ftyp":
        return Detected(Kind.UNSUPPORTED, "video/mp4")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Detected(Kind.UNSUPPORTED, "image/webp")
    return Detected(Kind.TEXT, "text/plain")


def _is_pdf(head: bytes) -> bool:
    """A PDF header (``%PDF-`` and a version digit) first, or after junk that is not text: a
    text that mentions "%PDF-1.7" in a sentence is a text."""
    marker = _PDF_HEADER.search(head, 0, _PDF_HEADER_WINDOW)
    if marker is None:
        return False
    prefix = head[: marker.start()]
    if not prefix.strip(b" \t\r\n\f\x00\xef\xbb\xbf"):
        return True  # nothing before it but whitespace or a byte-order mark
    controls = len(prefix) - len(prefix.translate(None, _CONTROL_BYTES))
    if controls and controls >= _MIN_JUNK_CONTROL_SHARE * len(prefix):
        return True  # binary junk before the file (a broken download, a mail gateway)
    # Text before it: headers a gateway or a server left above the file, when the header
    # starts a line and a PDF body follows.
    return prefix.endswith((b"\n", b"\r")) and bool(_PDF_OBJECT.search(head, marker.end()))


def _detect_zip(path: Path) -> Detected:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            content_types = _read_small(archive, "[Content_Types].xml")
            mimetype = _read_small(archive, "mimetype").strip().decode("ascii", "replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise FileTypeError(
            ReasonCode.CORRUPT,
            f"The file starts like a ZIP archive (DOCX) but cannot be read: {exc}",
        ) from exc
    if b"wordprocessingml.document.main+xml" in content_types:
        return Detected(Kind.DOCX, DOCX)
    if b"ms-word.document.macroEnabled" in content_types:
        return Detected(Kind.UNSUPPORTED, "application/vnd.ms-word.document.macroEnabled.12")
    if b"wordprocessingml.template" in content_types:
        return Detected(
            Kind.UNSUPPORTED,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
        )
    if "word/document.xml" in names:
        # No usable content-types part: let python-docx judge the package.
        return Detected(Kind.DOCX, DOCX)
    if b"spreadsheetml" in content_types or "xl/workbook.xml" in names:
        return Detected(
            Kind.UNSUPPORTED, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    if b"presentationml" in content_types or "ppt/presentation.xml" in names:
        return Detected(
            Kind.UNSUPPORTED,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        )
    if mimetype.startswith("application/") and len(mimetype) < 100:
        return Detected(Kind.UNSUPPORTED, mimetype)  # OpenDocument, EPUB
    return Detected(Kind.UNSUPPORTED, "application/zip")


def _read_small(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return b""
    if info.file_size > _MEMBER_SNIFF_LIMIT:
        return b""
    return archive.read(info)


def _is_encrypted_office(path: Path) -> bool:
    """An encrypted DOCX/XLSX is an OLE2 container with an ``EncryptedPackage`` stream."""
    marker = "EncryptedPackage".encode("utf-16-le")
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(marker) != -1
