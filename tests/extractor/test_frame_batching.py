"""Pages travel in batches (FrameWriter flush=False), yet never wait long and never reorder."""

from __future__ import annotations

import os
import select
import time

from services.extractor.extraction import protocol


def _pipe() -> tuple[int, protocol.FrameWriter]:
    read_end, write_end = os.pipe()
    return read_end, protocol.FrameWriter(os.fdopen(write_end, "wb"))


def test_a_buffered_frame_is_flushed_without_a_later_send() -> None:
    read_end, writer = _pipe()
    writer.send({"k": protocol.PAGE, "n": 1}, b"text", flush=False)
    started = time.monotonic()
    ready, _, _ = select.select([read_end], [], [], 5.0)
    assert ready, "the buffered frame never arrived"
    assert time.monotonic() - started < 5.0
    with os.fdopen(read_end, "rb") as stream:
        frame = protocol.read_frame(stream)
    assert frame == ({"k": protocol.PAGE, "n": 1}, b"text")


def test_buffered_frames_arrive_in_order_with_the_final_one() -> None:
    read_end, writer = _pipe()
    for number in range(1, 4):
        writer.send({"k": protocol.PAGE, "n": number}, b"x" * number, flush=False)
    writer.send({"k": protocol.DONE})
    with os.fdopen(read_end, "rb") as stream:
        frames = [protocol.read_frame(stream) for _ in range(4)]
    assert [f[0]["k"] for f in frames if f] == [protocol.PAGE] * 3 + [protocol.DONE]
    assert [f[1] for f in frames if f][:3] == [b"x", b"xx", b"xxx"]
