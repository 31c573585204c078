"""The worker process: ``python -m <this package>.worker``, started and fed by the pool.

Jobs arrive on stdin and pages leave on the original stdout, both as :mod:`.protocol` frames.
Everything a document can do to a process happens here, never in the service itself: the pool
kills this process on timeout, memory excess or cancellation and starts a fresh one.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import logging
import os
import resource
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from shared import heap
from shared.lifeline import die_with_parent
from shared.reasons import ReasonCode
from shared.text import detect_language

from . import protocol, testhooks
from .collector import PageChooser, PageCollector, Rows
from .dispatch import extract_document
from .errors import ExtractionError
from .limits import ExtractionLimits
from .ocr import OcrEngine
from .ocr_options import OcrOptions
from .pages import PageText

logger = logging.getLogger(__name__)


class _Sender:
    """Streams the collector's pages and tables to the parent, split into bounded frames."""

    def __init__(self, writer: protocol.FrameWriter) -> None:
        self._writer = writer

    def page(self, page: PageText, total: int) -> None:
        text, step = page.text, protocol.TEXT_CHUNK_CHARS
        starts = range(0, len(text), step) if text else range(1)
        for start in starts:
            header = {
                "k": protocol.PAGE,
                "n": page.number,
                "total": total,
                "empty": page.empty,
                "more": start + step < len(text),
            }
            if start == 0:  # the page's metadata rides on its first frame
                header["extractor"] = page.extractor
                header["ocr_confidence"] = page.ocr_confidence
                header["warnings"] = page.warnings
            self._writer.send(header, text[start : start + step].encode("utf-8"))

    def table(self, page: int, rows: Rows) -> None:
        step = protocol.TABLE_CHUNK_ROWS
        for start in range(0, len(rows), step) if rows else range(1):
            more = start + step < len(rows)
            chunk = rows[start : start + step]
            self._writer.send({"k": protocol.TABLE, "page": page, "rows": chunk, "more": more})


def run_job(
    header: protocol.Header, writer: protocol.FrameWriter, jobs_in: BinaryIO | None = None
) -> None:
    limits = _limits(tuple(sorted(header["limits"].items())))
    sender = _Sender(writer)
    collector = PageCollector(
        limits, sender.page, sender.table, _page_chooser(header, writer, jobs_in)
    )
    path = Path(header["path"])
    out_of_memory = False
    try:
        testhooks.run_if_requested(path)
        ocr = _ocr_options(tuple(sorted(header["ocr"].items()))) if header.get("ocr") else _NO_OCR
        info = extract_document(
            path,
            password=header.get("password"),
            tables=bool(header.get("tables")),
            limits=limits,
            out=collector,
            ocr=ocr,
            ocr_engine=_ocr_engine(ocr),
            ocr_languages=header.get("ocr_languages"),
        )
        writer.send(
            {
                "k": protocol.DONE,
                "detected_type": info.detected_type,
                "extractor": info.extractor,
                "title": info.title,
                "author": info.author,
                # A helper's pages are not the first ones: the pool has the language.
                "language": None if header.get("helper") else collector.language(),
                "chars": collector.chars,
                "words": collector.words,
                "warnings": info.warnings,
                "document_warnings": info.document_warnings,
            }
        )
    except ExtractionError as exc:
        _send_error(writer, exc.reason, exc.message)
    except MemoryError:
        # Reported below, once this handler has dropped the traceback and what it kept alive.
        out_of_memory = True
    except RecursionError:
        _send_error(writer, ReasonCode.CORRUPT, "The document is nested too deeply to be read.")
    except Exception as exc:  # a bug or an unforeseen library failure: say so, keep serving
        logger.exception("extraction of %s failed", path)
        _send_error(writer, ReasonCode.INTERNAL, f"Unexpected {type(exc).__name__}: {exc}")
    if out_of_memory:
        _exit_out_of_memory(writer)


# The options of a job, made once per distinct value: every job of a pool sends the same, and
# building them (validation with dataclasses.asdict) costs tens of microseconds.
@functools.lru_cache(maxsize=16)
def _limits(items: tuple[tuple[str, Any], ...]) -> ExtractionLimits:
    return ExtractionLimits.from_dict(dict(items))


@functools.lru_cache(maxsize=16)
def _ocr_options(items: tuple[tuple[str, Any], ...]) -> OcrOptions:
    return OcrOptions.from_dict(dict(items))


_NO_OCR = OcrOptions()


def _page_chooser(
    header: protocol.Header, writer: protocol.FrameWriter, jobs_in: BinaryIO | None
) -> PageChooser | None:
    """Which pages of a PDF this job reads (see protocol.SPLIT); None: all of them."""
    split_above = header.get("split_above")
    if split_above is None or jobs_in is None:
        return None
    reader = jobs_in
    helping = bool(header.get("helper"))

    def ask_the_pool(total: int) -> Iterator[range]:
        if total <= split_above:
            yield range(total)
            return
        if helping:
            testhooks.run_in_later_part()
        while True:  # one range after another, until the pool has none left
            writer.send({"k": protocol.SPLIT, "total": total})
            answer = protocol.read_frame(reader)
            if answer is None or answer[0]["k"] != protocol.PAGES:
                raise ExtractionError(
                    ReasonCode.INTERNAL, "The pool did not say which pages to read."
                )
            pages = range(int(answer[0]["start"]), int(answer[0]["stop"]))
            if not pages:
                return
            yield pages

    return ask_the_pool


_engines: dict[OcrOptions, OcrEngine] = {}


def _ocr_engine(options: OcrOptions) -> OcrEngine:
    """The worker's engine for these options: Tesseract models stay loaded between jobs."""
    engine = _engines.get(options)
    if engine is None:
        for old in _engines.values():
            old.close()
        _engines.clear()
        engine = _engines[options] = OcrEngine(options)
    return engine


def _send_error(
    writer: protocol.FrameWriter, reason: ReasonCode, message: str, *, fatal: bool = False
) -> None:
    header = {"k": protocol.ERROR, "reason": reason.value, "message": message, "fatal": fatal}
    writer.send(header)


def _exit_out_of_memory(writer: protocol.FrameWriter) -> None:
    """Report and exit: after a failed allocation the heap may be fragmented or half-updated."""
    gc.collect()
    with contextlib.suppress(Exception):
        _send_error(
            writer,
            ReasonCode.MEMORY_LIMIT,
            "The document needs more memory than the extractor's limit.",
            fatal=True,
        )
    os._exit(protocol.EXIT_OUT_OF_MEMORY)


def _harden(address_space_mb: int, parent_pid: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group; the pool decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Die with the parent even while stuck in C code (stdin EOF is only seen between jobs).
    die_with_parent(signal.SIGKILL, parent=parent_pid)
    if address_space_mb > 0:
        cap = address_space_mb * 2**20
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _warm_up() -> None:
    """Pay the one-time costs before the first job: the readers are imported with this module;
    langdetect loads its language profiles (~0.5 s) on first use. Then the heap is settled
    (shared/heap.py): pdfplumber allocates enough per page to run the collector's full
    collections every few pages, and each walked every imported module's objects again. A
    15-page PDF with tables, one process: 232-245 -> 193-203 ms of CPU."""
    detect_language("This short sentence loads the language profiles once per worker.")
    heap.settle()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--address-space-mb", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, default=os.getppid())
    args = parser.parse_args(argv)
    _harden(args.address_space_mb, args.parent_pid)
    # Frames go to a private copy of stdout; fd 1 itself now points at stderr, so whatever a C
    # library prints cannot corrupt the protocol stream.
    frames_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=protocol.WRITE_BUFFER_BYTES)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.WARNING, format="extractor-worker %(levelname)s %(message)s")
    # Broken files make these libraries log a warning per repaired object: noise at our level.
    for noisy in ("pypdf", "pdfminer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    writer = protocol.FrameWriter(frames_out)
    _warm_up()
    writer.send({"k": protocol.READY, "pid": os.getpid()})
    jobs_in = sys.stdin.buffer
    while (frame := protocol.read_frame(jobs_in)) is not None:
        header, _ = frame
        if header["k"] == protocol.JOB:
            run_job(header, writer, jobs_in)
    return 0


if __name__ == "__main__":
    sys.exit(main())
