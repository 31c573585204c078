"""Right-to-left text from pdfium: the letters of a ligature glyph put back in logical order.

Word processors draw Arabic ligatures (lam-alef, and more in some fonts) as one glyph whose
ToUnicode entry holds its letters in logical order ("لا"). pdfium reverses right-to-left runs
character by character and turns such a glyph's letters the wrong way round ("السالم" for
"السلام"), while the ligatures it decomposes itself (presentation forms such as U+FEFC) come out
right, and nothing in pdfium's answers tells the two apart. So the characters that share one
glyph (one origin on the page) are found, and where pypdf, which keeps each glyph's letters as
the font maps them, reads the word the other way round, pypdf's order is taken.

Whole words can be turned too: in PDFs from Chromium (Skia), pdfium gives most Arabic words
letter by letter reversed ("ةغللا" for "اللغة") and some right, while pypdf reads the glyphs in
the order they were written, which there is the logical one. But PDF writers that draw
right-to-left text in visual order make pypdf's reading the reversed one, so pypdf is taken as
the reference only where its words read as more logical than pdfium's: letters that exist only
at a word's end (Hebrew final forms, Arabic ta marbuta and alef maksura) end its words, and
Arabic words begin with the article "ال" rather than end with it reversed (:func:`settle_words`).
Only pages with right-to-left letters do any of this, and only those with a ligature or a word
that reads reversed ask pypdf.
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

# A word of right-to-left letters and their marks (punctuation and digits end it).
_RTL_WORD = re.compile(
    "[{}]+".format(
        "".join(
            chr(code)
            for first, last in ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFC))
            for code in range(first, last + 1)
            if unicodedata.category(chr(code))[0] in "LM"
        )
    )
)
# Letters written only at the end of a word: Hebrew's final forms, Arabic's ta marbuta and
# alef maksura.
_FINAL_ONLY = frozenset("ךםןףץةى")
_ARTICLE = "ال"


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


def _skeleton(word: str) -> str:
    """The word's letters without their marks (vowel signs, tanween): pdfium and pypdf attach
    the marks of a reversed word to different letters."""
    return "".join(char for char in word if not unicodedata.combining(char))


def _logical_cues(word: str) -> int:
    """How much a word (its skeleton) reads as written in logical order: positive where it
    does, negative where it reads reversed, 0 without a clue."""
    cues = 0
    if len(word) > 1:
        cues += (word[-1] in _FINAL_ONLY) - (word[0] in _FINAL_ONLY)
    if len(word) > 3:
        cues += word.startswith(_ARTICLE) - word.endswith(_ARTICLE[::-1])
    return cues


def may_be_reversed(text: str) -> bool:
    """Whether a right-to-left word of ``text`` reads reversed by :func:`_logical_cues`: it
    starts with a letter that only ends words, or ends with the article. Only such pages need
    pypdf's reading: Hebrew that pdfium got right never has one, Arabic seldom (an adverb
    such as "مثلا" ends like the reversed article)."""
    return any(_logical_cues(_skeleton(word)) < 0 for word in _RTL_WORD.findall(text))


def settle_words(text: str, reference: str) -> tuple[str, int]:
    """``text`` with each right-to-left word that ``reference`` has only the other way round
    taken from ``reference``, when ``reference``'s words read as more logical than ``text``'s
    (see the module's docstring); also how many were."""
    reference = unicodedata.normalize("NFKC", reference)
    theirs = [_skeleton(word) for word in _RTL_WORD.findall(reference)]
    ours = sum(_logical_cues(_skeleton(word)) for word in _RTL_WORD.findall(text))
    if sum(_logical_cues(word) for word in theirs) <= ours:
        return text, 0
    known: dict[str, str] = {}
    for match in _RTL_WORD.finditer(reference):
        known.setdefault(_skeleton(match.group()), match.group())
    flipped = 0

    def settle(match: re.Match[str]) -> str:
        nonlocal flipped
        word = _skeleton(match.group())
        other = word[::-1]
        if len(word) < 2 or word in known or other not in known:
            return match.group()
        if _logical_cues(other) < _logical_cues(word):
            return match.group()
        flipped += 1
        return known[other]

    return _RTL_WORD.sub(settle, text), flipped
