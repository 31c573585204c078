"""Cut long texts into chunks at natural boundaries, so every part of a document is analysed.

Chunks are exact slices of the input, in order, covering all of it (only whitespace between
them may be dropped): a sentence quoted from a chunk is a sentence of the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Preferred cut points, best first: a blank line, the end of a sentence, a line end, a space.
_CUT_PATTERNS = (
    re.compile(r"\n[ \t\r\f\v]*\n"),
    re.compile("[.!?\u2026][\"'\u201d\u2019\u00bb)\\]]*\\s"),
    re.compile(r"\n"),
    re.compile(r"\s"),
)
# Never cut in the first part of a window: chunks stay at least this share of the maximum.
_MIN_FILL = 0.5


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start: int  # offset of ``text`` in the whole document
    text: str


def _cut_point(text: str, start: int, end: int) -> int:
    low = start + int((end - start) * _MIN_FILL)
    for pattern in _CUT_PATTERNS:
        ends = [m.end() for m in pattern.finditer(text, low, end)]
        if ends:
            return ends[-1]
    return end  # one unbroken token longer than half a chunk: cut it


def split_chunks(text: str, max_chars: int) -> list[Chunk]:
    """Chunks of at most ``max_chars`` characters; whitespace-only pieces are skipped."""
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[Chunk] = []
    start = 0
    n = len(text)
    while start < n:
        end = n if n - start <= max_chars else _cut_point(text, start, start + max_chars)
        piece = text[start:end]
        if piece.strip():
            chunks.append(Chunk(len(chunks), start, piece))
        start = end
    return chunks
