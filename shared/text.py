"""Text helpers used by more than one service: sanitizing for storage, counting, language."""

from __future__ import annotations

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
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


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
