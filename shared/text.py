"""Text helpers used by more than one service: sanitizing for storage, counting, language."""

from __future__ import annotations

import codecs
import re
from itertools import islice

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+", re.UNICODE)

# Enough text for a confident guess; langdetect's cost grows with the input.
_LANGUAGE_SAMPLE_CHARS = 4000


# Characters no honest text is made of: the replacement character, private use (fonts' own
# symbols), C0/C1 controls but tab and newline, surrogates and noncharacters. Every character
# sanitize removes or replaces is one of them.
JUNK_CHARS = re.compile(
    "[\ufffd\ufffe\uffff\ue000-\uf8ff\U000f0000-\U0010ffff\ud800-\udfff"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
ASCII_SYMBOL = re.compile(r"[!-/:-@\[-`{-~]")  # ASCII punctuation and symbols, "_" included
SPACES = " \n\t\r\u00a0"

# The classes char_classes names, one byte each. A word character (what \w matches: str.isalnum()
# or "_") is WORD or UNDERSCORE; UNDERSCORE is also an ASCII symbol.
SPACE, JUNK, SYMBOL, UNDERSCORE, WORD, OTHER = b"w", b"j", b"s", b"u", b"a", b"o"


def sanitize(text: str) -> str:
    """Make text safe to store anywhere: valid UTF-8, no NUL or other C0 control characters.

    MongoDB-compatible stores (FerretDB) refuse NUL in strings; lone surrogates from broken
    PDFs cannot be encoded as UTF-8. Tabs and newlines are kept.
    """
    classes = char_classes(text)
    if classes is not None and JUNK not in classes:
        return text  # nothing to remove or replace; the classes serve count_words next
    if not text.isascii():
        try:
            text.encode("utf-8")  # no lone surrogate: the round trip would change nothing
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def _class_of(char: str) -> bytes:
    if char in SPACES:
        return SPACE
    if JUNK_CHARS.match(char):
        return JUNK
    if char == "_":
        return UNDERSCORE
    if ASCII_SYMBOL.match(char):
        return SYMBOL
    return WORD if char.isalnum() else OTHER


_LATIN1_CLASSES = b"".join(_class_of(chr(code)) for code in range(256))
# Above Latin-1, the error handler puts one Latin-1 character of the same class: NUL for junk,
# "a" for a word character, the middle dot (U+00B7: other) for anything else.
_ABOVE_LATIN1 = "docstream-char-classes"
_STAND_IN = "\u00b7"


def _above_latin1(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    return "".join(_stand_in_for(char) for char in run), error.end


def _stand_in_for(char: str) -> str:
    if JUNK_CHARS.match(char):
        return "\x00"
    return "a" if char.isalnum() else _STAND_IN


codecs.register_error(_ABOVE_LATIN1, _above_latin1)

# The text char_classes last classified, and its classes: a page's text is sanitized, counted
# and judged by three callers in turn (the extractor's collector and quality check), and
# the encoding pass is most of what each costs. Strings are immutable, and the slot holds a
# reference, so the same object always has the same classes.
_last: tuple[str, bytes | None] = ("", b"")


def char_classes(text: str) -> bytes | None:
    """``text`` as one byte per character naming its class (``SPACE``, ``JUNK``, ``SYMBOL``,
    ``UNDERSCORE``, ``WORD`` or ``OTHER``), for ``bytes.count`` and ``bytes.translate`` to
    count in C. None when more than an eighth of the characters are above Latin-1
    (Cyrillic, CJK...): the error handler, a Python call per run of them, would cost more
    than a regular expression's pass; callers then use the patterns above.

    The right single quote and the en dash (U+2019, U+2013: the characters above Latin-1
    most frequent in PDF text) are put in C as a middle dot, which is of their class
    (OTHER)."""
    global _last
    last = _last
    if last[0] is text:
        return last[1]
    classes: bytes | None = None
    encoded = text
    if not encoded.isascii():
        encoded = encoded.replace("\u2019", _STAND_IN).replace("\u2013", _STAND_IN)
        above = len(encoded) - len(encoded.encode("latin-1", "ignore"))
        if above * 8 > len(encoded):
            _last = (text, None)
            return None
    classes = encoded.encode("latin-1", _ABOVE_LATIN1).translate(_LATIN1_CLASSES)
    _last = (text, classes)
    return classes


# count_words' marks: "a" for a word character, a space for any other.
_WORD_MARKS = bytes.maketrans(SPACE + JUNK + SYMBOL + UNDERSCORE + WORD + OTHER, b"   aa ")


def count_words(text: str) -> int:
    r"""How many runs of word characters ``text`` has: ``len(re.findall(r"\w+", text))``,
    counted in C without building the words where the text is mostly Latin-1 (a third of the
    time on PDF text)."""
    classes = char_classes(text)
    if classes is None:
        return len(_WORD.findall(text))
    marks = classes.translate(_WORD_MARKS)
    return marks.count(b" a") + marks.startswith(b"a")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to tell.

    Deterministic: the same text always gets the same answer.
    """
    sample = text[:_LANGUAGE_SAMPLE_CHARS]
    # Three words are enough to go on: finding them all (~600 on a full sample) cost ~90 us.
    if len(list(islice(_WORD.finditer(sample), 3))) < 3:
        return None
    from shared import language  # loads langdetect's profiles on first use

    # langdetect's answer where it is clear, computed in a fraction of its time (see
    # shared.language); None where langdetect raises for want of n-grams to go by.
    return language.detect(sample)
