"""The pipe protocol between the pool (parent) and its worker processes.

A frame is ``!II`` (header length, body length), a JSON header, then a raw body. Page text
travels as the UTF-8 body, so the parent never JSON-decodes big strings; long texts and tables
are split into several frames so that no single decode blocks the parent's event loop for long.
The child only ever sends JSON (never pickle) so that a worker compromised by a hostile file
cannot make the parent run code.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

PREFIX = struct.Struct("!II")
# Far above any frame we send (text chunks ~4 MiB at most); anything larger is a broken peer.
MAX_FRAME_BYTES = 64 * 2**20
TEXT_CHUNK_CHARS = 2**20
TABLE_CHUNK_ROWS = 2000

# Parent -> child.
# header: path, password, tables, limits, ocr, ocr_languages; split_above (a PDF with more pages
# asks which pages to read, see SPLIT; absent: never); helper (a worker the pool added to a
# document another one started: split_above is 0, and it reports no language).
JOB = "job"
PAGES = "pages"  # the answer to SPLIT; header: start, stop (0-based; an empty range: no more)
# Child -> parent.
READY = "ready"
# header: n, total, empty, more (more text of the same page follows); a page's first frame also
# has extractor, ocr_confidence, warnings.
PAGE = "page"
TABLE = "table"  # header: page, rows, more (more rows of the same table follow)
DONE = "done"  # header: ..., warnings, document_warnings (said once however many parts)
# header: total. Sent by a PDF with more pages than the job's split_above, before any page and
# again after each range read; the worker waits for PAGES. The pool hands out the pages, range
# by range, to the workers it has added to the document.
SPLIT = "split"
ERROR = "error"  # header: reason, message, fatal (the worker exits after sending it)

# Exit status of a worker that ran out of memory and could not even report it.
EXIT_OUT_OF_MEMORY = 86

Header = dict[str, Any]


# Made once: json.dumps with options and json.loads of bytes build or look these up per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


def encode(header: Header, body: bytes = b"") -> bytes:
    raw = _ENCODER.encode(header).encode()
    return PREFIX.pack(len(raw), len(body)) + raw + body


def decode_header(raw: bytes | bytearray) -> Header:
    header = _DECODER.decode(raw.decode("utf-8"))
    if not isinstance(header, dict) or not isinstance(header.get("k"), str):
        raise ValueError("frame header is not an object with a kind")
    return header


def read_frame(stream: BinaryIO) -> tuple[Header, bytes] | None:
    """Blocking read of one frame (the worker's side); None at end of stream."""
    prefix = stream.read(PREFIX.size)
    if len(prefix) < PREFIX.size:
        return None
    header_len, body_len = PREFIX.unpack(prefix)
    if header_len + body_len > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {header_len + body_len} bytes is too large")
    header = stream.read(header_len)
    body = stream.read(body_len)
    if len(header) < header_len or len(body) < body_len:
        return None
    return decode_header(header), body


class FrameWriter:
    """The worker's side of the pipe: whole frames, flushed at once."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def send(self, header: Header, body: bytes = b"") -> None:
        self._stream.write(encode(header, body))
        self._stream.flush()
