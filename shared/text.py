"""Text helpers used by more than one service: sanitizing for storage, counting, language."""

from __future__ import annotations

import codecs
import re

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


# count_words sees the text as bytes: "a" for a character \w matches (for a str pattern:
# str.isalnum() or "_"), a space for any other. Latin-1 through a table; the characters above
# it through an encoding error handler, one call per run of them.
_WORDNESS = bytes(
    ord("a") if chr(code).isalnum() or chr(code) == "_" else ord(" ") for code in range(256)
)
_ABOVE_LATIN1 = "docstream-wordness"


def _wordness(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start : error.end]
    return "".join("a" if char.isalnum() or char == "_" else " " for char in run), error.end


codecs.register_error(_ABOVE_LATIN1, _wordness)


def count_words(text: str) -> int:
    r"""How many runs of word characters ``text`` has: ``len(re.findall(r"\w+", text))``,
    counted in C without building the words (a third of the time on PDF text)."""
    if not text.isascii():
        # The two characters above Latin-1 most frequent in PDF text, neither of them a word
        # character: replaced in C, they cost no error handler call.
        text = text.replace("\u2019", "'").replace("\u2013", "-")
    marks = text.encode("latin-1", _ABOVE_LATIN1).translate(_WORDNESS)
    return marks.count(b" a") + marks.startswith(b"a")


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when there is too little text to tell.

    Deterministic: the same text always gets the same answer.
    """
    sample = text[:_LANGUAGE_SAMPLE_CHARS]
    if len(_WORD.findall(sample)) < 3:
        return None
    from shared import language  # loads langdetect's profiles on first use

    # langdetect's answer where it is clear, computed in a fraction of its time (see
    # shared.language); None where langdetect raises for want of n-grams to go by.
    return language.detect(sample)
