"""Is a page's text trustworthy? Cheap checks on the fast path's text, a score to pick the best.

A PDF's text layer can be garbage without any reader noticing: a font without a Unicode
mapping yields its raw glyph codes (``'"7+%-`` for "Phone"), an unmapped CJK font only its
digits and punctuation, a broken one replacement or private-use characters. What these have in
common is visible in the characters themselves, so the check looks only at the text, with a few
C-speed passes: each character becomes one byte naming its class (an encoding with a
translation table, ``bytes.count`` per class), so a page that passes costs the fast path
almost nothing, and only a page that fails is read again another way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.text import (
    ASCII_SYMBOL,
    JUNK,
    JUNK_CHARS,
    SPACE,
    SPACES,
    SYMBOL,
    UNDERSCORE,
    char_classes,
)

# Junk (shared.text.JUNK_CHARS): characters no honest text layer is made of. ASCII punctuation
# and symbols (shared.text.ASCII_SYMBOL) are where an unmapped font's raw codes land; a run of
# one repeated character (dot leaders in a table of contents, rules of dashes) counts once, but
# that count (a slower pattern) is only needed when the plain one is over the threshold.
_SYMBOL_RUN = re.compile(r"([!-/:-@\[-`{-~])\1*")
_LETTER = re.compile(r"[^\W\d_]")  # a word character that is no digit: a letter (or a mark)

# Thresholds, chosen on the corpus (no text page comes near them) and the failures of issue 8.
MAX_JUNK_SHARE = 0.1
MAX_SYMBOL_SHARE = 0.5
# Below this many visible characters, a page says too little to judge its symbols by.
MIN_CHARS_TO_JUDGE = 4
# A page of this many characters without a single letter is digits and punctuation only: what
# is left of a text whose letters the reader could not map.
MIN_CHARS_WITHOUT_LETTERS = 20


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`assess`: ``reason`` is None when the text can be trusted."""

    visible: int  # characters other than white space
    junk: int
    symbols: int
    reason: str | None

    @property
    def trusted(self) -> bool:
        return self.reason is None


def assess(text: str) -> Verdict:
    """Judge one page's text. Empty text is not "trusted": there is nothing to trust."""
    # One byte per character (shared.text.char_classes): the collector's sanitizing and word
    # count that follow reuse the same pass.
    classes = char_classes(text)
    if classes is None:  # mostly above Latin-1: regular expressions
        visible = len(text) - sum(text.count(space) for space in SPACES)
        junk, symbols = len(JUNK_CHARS.findall(text)), len(ASCII_SYMBOL.findall(text))
    else:
        # bytes.count walks every byte; "in" stops at the first (memchr): most pages have no
        # junk and few underscores.
        visible = len(classes) - classes.count(SPACE)
        junk = classes.count(JUNK) if JUNK in classes else 0
        symbols = classes.count(SYMBOL) + (
            classes.count(UNDERSCORE) if UNDERSCORE in classes else 0
        )
    if visible <= 0:
        return Verdict(0, 0, 0, "no text")
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


def score(text: str, verdict: Verdict | None = None, confidence: float | None = None) -> float:
    """How much believable text ``text`` holds, to pick the best of several readings: its
    characters that are neither junk nor punctuation, halved when the text fails the checks,
    and weighted by the recognizer's confidence (0..1) for OCR text."""
    verdict = verdict or assess(text)
    useful = float(max(verdict.visible - verdict.junk - verdict.symbols, 0))
    if not verdict.trusted:
        useful /= 2
    return useful * (confidence if confidence is not None else 1.0)
