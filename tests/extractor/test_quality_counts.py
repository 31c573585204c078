"""The text check's counts, taken in C from one byte per character, are the regular
expressions' counts: the same verdicts as quality.assess gave when it used them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.extractor.extraction.quality import (
    _LETTER,
    _SYMBOL_RUN,
    MAX_JUNK_SHARE,
    MAX_SYMBOL_SHARE,
    MIN_CHARS_TO_JUDGE,
    MIN_CHARS_WITHOUT_LETTERS,
    Verdict,
    assess,
)
from shared.text import ASCII_SYMBOL, JUNK_CHARS

# White space, letters, digits, ASCII punctuation, the stand-in and what it stands for, junk
# of every kind (replacement, private use, C0/C1 controls, plane 15-16, a lone surrogate),
# Latin-1 and letters above it, astral letters.
ALPHABET = (
    " \n\t\r\xa0abcXYZ019!?.-_'\"\u00b7\u2019\u2013\u2026\ufffd\ufffe\ue000\uf0a7"
    "\x00\x07\x1f\x7f\x85\x9fé\u00e0\u0416\u05d0\u4e2d\U000f0001\U0001d400\ud800"
)


def _assess_by_patterns(text: str) -> Verdict:
    """quality.assess as it was: str.count and regular expressions."""
    visible = len(text) - sum(text.count(space) for space in " \n\t\r\u00a0")
    if visible <= 0:
        return Verdict(0, 0, 0, "no text")
    junk = len(JUNK_CHARS.findall(text))
    symbols = len(ASCII_SYMBOL.findall(text))
    if symbols > MAX_SYMBOL_SHARE * visible:
        symbols = len(_SYMBOL_RUN.findall(text))
    reason = None
    if junk > MAX_JUNK_SHARE * visible:
        reason = f"{junk} of {visible} characters are replacement, private-use or control"
    elif visible >= MIN_CHARS_TO_JUDGE and symbols > MAX_SYMBOL_SHARE * visible:
        reason = f"{symbols} of {visible} characters are punctuation or symbols"
    elif visible >= MIN_CHARS_WITHOUT_LETTERS and _LETTER.search(text) is None:
        reason = f"none of {visible} characters is a letter"
    return Verdict(visible, junk, symbols, reason)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " \n\t",
        "Plain ASCII text, with punctuation!",
        "l\u2019\u00e9l\u00e8ve \u2013 d\u00e9j\u00e0 vu\u2026",
        "\u4e2d\u6587\u6587\u672c" * 40,  # mostly above Latin-1: the patterns' path
        "\uf0a7\uf0fc" * 40 + " x",  # an unmapped symbol font
        "\u2013 \u2013 \u2013 123 \u2019" * 5,  # no letter, whatever the stand-in is
    ],
)
def test_same_counts_and_verdict(text: str) -> None:
    assert assess(text) == _assess_by_patterns(text)


@given(st.text(alphabet=ALPHABET, max_size=120))
@settings(max_examples=1000, deadline=None)
def test_same_counts_on_any_text(text: str) -> None:
    assert assess(text) == _assess_by_patterns(text)
