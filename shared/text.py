"""Text helpers used by more than one service: sanitizing for storage, counting, language."""

from __future__ import annotations

import codecs
import re
from itertools import islice

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD = re.compile(r"\w+", re.UNICODE)

# Enough text for a confident guess; langdetect's cost grows with the input.
_LANGUAGE_SAMPLE_CHARS = 4000


def sanitize(text: str) -> str:
    """Make text safe to store anywhere: valid UTF-8, no NUL or other C0 control characters.

    MongoDB-compatible stores (FerretDB) refuse NUL in strings; lone surrogates from broken
    PDFs cannot be encoded as UTF-8. Tabs and newlines are kept.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")  # no lone surrogate: the round trip would change nothing
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def byte_classes(text: str, table: bytes, above_latin1: str) -> bytes | None:
    """``text`` as one byte per character naming its class, for ``bytes.count`` to count in C:
    a Latin-1 character through ``table`` (256 bytes), a run of characters above Latin-1
    through the encoding error handler registered as ``above_latin1`` (which must put one
    Latin-1 character of the right class for each). None when more than an eighth of the
    characters are above Latin-1 (Cyrillic, CJK...): the handler, a Python call per run,
    would cost more than a regular expression's pass.

    The right single quote and the en dash (U+2019, U+2013: the characters above Latin-1
    most frequent in PDF text) are put in C as a middle dot (U+00B7), which every caller's
    table must class as it classes them (not a word character, not junk, not white space,
    not ASCII punctuation)."""
    if not text.isascii():
        text = text.replace("\u2019", _STAND_IN).replace("\u2013", _STAND_IN)
        above = len(text) - len(text.encode("latin-1", "ignore"))
        if above * 8 > len(text):
            return None
    return text.encode("latin-1", above_latin1).translate(table)


_STAND_IN = "\u00b7"
# count_words' classes: "a" for a character \w matches (for a str pattern: str.isalnum() or
# "_"), a space for any other.
_WORDNESS = bytes(
    ord("a") if chr(code).isalnum() or chr(code) == "_" else ord(" ") for code in range(256)
)
_WORDNESS_ABOVE_LATIN1 = "docstream-wordness"


def _wordness(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    return "".join("a" if char.isalnum() or char == "_" else " " for char in run), error.end


codecs.register_error(_WORDNESS_ABOVE_LATIN1, _wordness)


def count_words(text: str) -> int:
    r"""How many runs of word characters ``text`` has: ``len(re.findall(r"\w+", text))``,
    counted in C without building the words where the text is mostly Latin-1 (a third of the
    time on PDF text)."""
    marks = byte_classes(text, _WORDNESS, _WORDNESS_ABOVE_LATIN1)
    if marks is None:
        return len(_WORD.findall(text))
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
