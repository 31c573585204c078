"""File type detection for the extractor: the sniffing itself is shared with ingest
(shared/filetype.py, which refuses unsupported types at upload); its complaints become the
extractor's ExtractionError."""

from __future__ import annotations

from pathlib import Path

from shared.filetype import (
    DOCX,
    HEAD_BYTES,
    OCTET_STREAM,
    PDF,
    Detected,
    FileTypeError,
    Kind,
)
from shared.filetype import detect as _detect

from .errors import ExtractionError

__all__ = ["DOCX", "HEAD_BYTES", "OCTET_STREAM", "PDF", "Detected", "Kind", "detect"]


def detect(path: Path, head: bytes) -> Detected:
    """Classify a file from its first bytes (``head``, up to :data:`HEAD_BYTES`)."""
    try:
        return _detect(path, head)
    except FileTypeError as exc:
        raise ExtractionError(exc.reason, exc.message) from exc
