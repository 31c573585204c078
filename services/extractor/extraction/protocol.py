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
import threading
import time
from typing import Any, BinaryIO

PREFIX = struct.Struct("!II")
# The worker's buffer for held frames: a pipe's capacity on Linux, so that one write can
# empty it into a drained pipe.
WRITE_BUFFER_BYTES = 2**16
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

# How long the worker may hold page and table frames before they go down the pipe (see
# FrameWriter). Far below the extractor's progress interval (0.25 s), so what the parent
# reports is as live as before.
HOLD_S = 0.02
_HELD_KINDS = frozenset({PAGE, TABLE})
_FLUSH_THREAD_STACK_BYTES = 256 * 1024

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
    """The worker's side of the pipe.

    Page and table frames are held for up to ``hold_s`` and go down the pipe together; any
    other frame (the job's end, a question, an error) is flushed at once with whatever is held
    before it, so the order never changes. Each write to the pipe is a system call that wakes
    the parent on the other core: sent one by one, a document's page frames cost its worker
    ~1% of its CPU more than one write at the end (benchmarks/changes.md), and the parent one
    wake-up a page.

    A flusher thread sends what is held every ``hold_s``, so a page followed by a slow one
    (OCR, a large table) is not kept back for the slow one's duration. It ticks while frames
    keep coming and sleeps, without a timer, from the first tick that finds none held until
    one is: waking a thread is the cost here (on a virtual machine, a wake-up on the other core
    costs tens of microseconds), and a worker reading short documents back to back used to
    wake it twice a document, once to hold and once to flush.
    """

    def __init__(self, stream: BinaryIO, hold_s: float = HOLD_S) -> None:
        self._stream = stream
        self._hold_s = hold_s
        self._lock = threading.Lock()
        self._held = False  # frames written to the stream's buffer and not flushed
        self._ticking = threading.Event()  # set while the flusher ticks
        if hold_s > 0:
            # A small stack: the worker's address space is capped (pool.py), and the thread
            # only sleeps and flushes.
            default = threading.stack_size(_FLUSH_THREAD_STACK_BYTES)
            try:
                flusher = threading.Thread(target=self._flush_held, name="frame-flush", daemon=True)
                flusher.start()
            finally:
                threading.stack_size(default)

    def send(self, header: Header, body: bytes = b"") -> None:
        frame = encode(header, body)
        with self._lock:
            self._stream.write(frame)
            if self._hold_s > 0 and header["k"] in _HELD_KINDS:
                self._held = True
                if not self._ticking.is_set():
                    self._ticking.set()  # wakes the flusher (only when it sleeps)
            else:
                self._held = False
                self._stream.flush()

    def _flush_held(self) -> None:
        while True:
            self._ticking.wait()
            # A frame held since the last tick (or since the flusher was woken) waits at most
            # hold_s (plus the GIL's turn).
            time.sleep(self._hold_s)
            with self._lock:
                if not self._held:
                    self._ticking.clear()  # none held a whole tick: sleep until one is
                    continue
                self._held = False
                try:
                    self._stream.flush()
                except (OSError, ValueError):
                    return  # the parent is gone (or the stream closed): nothing to deliver to
