"""The worker's frame writer: page and table frames are held briefly, others go at once, and the
order on the pipe is the order sent (protocol.FrameWriter)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from services.extractor.extraction import protocol


@pytest.fixture
def pipe() -> Iterator[tuple[int, protocol.FrameWriter]]:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    stream = os.fdopen(write_fd, "wb", buffering=protocol.WRITE_BUFFER_BYTES)
    yield read_fd, protocol.FrameWriter(stream, hold_s=0.2)
    stream.close()
    os.close(read_fd)


def _frames(read_fd: int) -> list[str]:
    """The kinds of the frames readable now."""
    try:
        data = os.read(read_fd, 2**20)
    except BlockingIOError:
        return []
    kinds = []
    while data:
        header_len, body_len = protocol.PREFIX.unpack_from(data)
        end = protocol.PREFIX.size + header_len + body_len
        kinds.append(protocol.decode_header(data[protocol.PREFIX.size : end - body_len])["k"])
        data = data[end:]
    return kinds


def _first_frames_within(read_fd: int, seconds: float) -> list[str]:
    """The kinds of the first frames that become readable, waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    kinds: list[str] = []
    while not kinds and time.monotonic() < deadline:
        time.sleep(0.02)
        kinds = _frames(read_fd)
    return kinds


def _page(n: int) -> protocol.Header:
    return {"k": protocol.PAGE, "n": n, "total": 3, "empty": False, "more": False}


def test_pages_are_held_until_the_hold_has_passed(
    pipe: tuple[int, protocol.FrameWriter],
) -> None:
    read_fd, writer = pipe
    writer.send(_page(1), b"one")
    writer.send({"k": protocol.TABLE, "page": 1, "rows": [["a"]], "more": False})
    assert _frames(read_fd) == []
    assert _first_frames_within(read_fd, 5) == [protocol.PAGE, protocol.TABLE]


def test_an_urgent_frame_goes_at_once_with_the_held_ones_before_it(
    pipe: tuple[int, protocol.FrameWriter],
) -> None:
    read_fd, writer = pipe
    writer.send(_page(1), b"one")
    writer.send({"k": protocol.SPLIT, "total": 40})
    assert _frames(read_fd) == [protocol.PAGE, protocol.SPLIT]
    writer.send(_page(2), b"two")
    writer.send({"k": protocol.DONE})
    assert _frames(read_fd) == [protocol.PAGE, protocol.DONE]
    time.sleep(0.3)  # the timer finds nothing left to flush, and sends nothing twice
    assert _frames(read_fd) == []


def test_without_a_hold_every_frame_goes_at_once() -> None:
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    with os.fdopen(write_fd, "wb") as stream:
        protocol.FrameWriter(stream, hold_s=0).send(_page(1), b"one")
        assert _frames(read_fd) == [protocol.PAGE]
    os.close(read_fd)


def test_a_page_held_after_the_flusher_went_idle_still_goes_within_the_hold(
    pipe: tuple[int, protocol.FrameWriter],
) -> None:
    read_fd, writer = pipe
    writer.send(_page(1), b"one")
    time.sleep(0.7)  # flushed at the first tick; the next one finds nothing and idles
    assert _frames(read_fd) == [protocol.PAGE]
    writer.send(_page(2), b"two")
    assert _frames(read_fd) == []
    assert _first_frames_within(read_fd, 5) == [protocol.PAGE]
