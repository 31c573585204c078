"""Right-to-left text from pdfium: the letters of a ligature glyph put back in logical order.

Word processors draw Arabic ligatures (lam-alef, and more in some fonts) as one glyph whose
ToUnicode entry holds its letters in logical order ("لا"). pdfium reverses right-to-left runs
character by character and turns such a glyph's letters the wrong way round ("السالم" for
"السلام"), while the ligatures it decomposes itself (presentation forms such as U+FEFC) come out
right, and nothing in pdfium's answers tells the two apart. So the characters that share one
glyph (one origin on the page) are found, and where pypdf, which keeps each glyph's letters as
the font maps them, reads the word the other way round, pypdf's order is taken. Only pages with
right-to-left letters look at character origins, and only pages with such ligatures ask pypdf.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from typing import Any

import pypdfium2.raw as pdfium_c

# Hebrew, Arabic (with its supplements and presentation forms), Syriac, Thaana, N'Ko.
RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")

Span = tuple[int, int]  # [start, end) in the page's text


def shared_glyph_spans(textpage: Any, text: str) -> list[Span]:
    """Runs of two or more right-to-left characters with one origin: one glyph's letters."""
    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    if count != len(text):  # characters outside the BMP: indices no longer line up
        return []
    spans: list[Span] = []
    x, y = ctypes.c_double(), ctypes.c_double()
    previous: tuple[float, float] | None = None
    start = 0
    for index in range(count + 1):
        origin = None
        if index < count and unicodedata.bidirectional(text[index]) in ("R", "AL"):
            pdfium_c.FPDFText_GetCharOrigin(textpage.raw, index, x, y)
            origin = (x.value, y.value)
        if origin is None or origin != previous:
            if previous is not None and index - start > 1:
                spans.append((start, index))
            start = index
        previous = origin
    return spans


def settle_spans(text: str, spans: list[Span], reference: str) -> tuple[str, int]:
    """``text`` with each span reversed where only the reversed word is in ``reference``;
    also how many were."""
    reference = unicodedata.normalize("NFKC", reference)
    chars = list(text)
    flipped = 0
    for start, end in spans:
        first, last = start, end
        while first > 0 and not chars[first - 1].isspace():
            first -= 1
        while last < len(chars) and not chars[last].isspace():
            last += 1
        word = "".join(chars[first:last])
        other = "".join(chars[first:start] + chars[start:end][::-1] + chars[end:last])
        if other in reference and word not in reference:
            chars[start:end] = chars[start:end][::-1]
            flipped += 1
    return "".join(chars), flipped
