import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.text import count_words, detect_language, sanitize


def test_sanitize_removes_nul_and_lone_surrogates_but_keeps_layout() -> None:
    dirty = "a\x00b\tc\nd\ud800e\x07"
    clean = sanitize(dirty)
    assert "\x00" not in clean and "\x07" not in clean
    assert "\t" in clean and "\n" in clean
    clean.encode("utf-8")  # would raise on a surrogate


def test_language_and_words() -> None:
    assert (
        detect_language("The quick brown fox jumps over the lazy dog near the river bank.") == "en"
    )
    assert detect_language("Le plan directeur de transport actif de la ville est adopté.") == "fr"
    assert detect_language("ok") is None
    assert count_words("one two, three") == 3


def test_language_needs_three_words_in_the_sample() -> None:
    assert detect_language("bonjour, madame") is None
    assert detect_language("!! bonjour -- madame ... ") is None
    assert detect_language("bonjour madame Dupont") is not None
    # Only the sample counts: words past its end are not read.
    padding = " ." * 2000
    assert detect_language(f"bonjour{padding} madame Dupont") is None
    assert detect_language(f"bonjour madame Dupont{padding}") is not None


_WORD = re.compile(r"\w+")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "word",
        " lead and trail ",
        "l\u2019élève \u2013 déjà vu\u2026 \ufb01n \ufb02ux œuvre",  # above Latin-1
        "snake_case_name 3.14 x²",
        "Быстрая лиса, 这是中文, العربية, עברית",
        "\U0001d400\U0001d401 astral \U0001f600 emoji",
        "a\x00b\tc\nd\ud800e",  # a lone surrogate (count_words gets sanitized text, but still)
    ],
)
def test_count_words_counts_what_the_word_pattern_matches(text: str) -> None:
    assert count_words(text) == len(_WORD.findall(text))


@given(st.text(alphabet=st.characters(codec=None), max_size=200))
@settings(max_examples=500, deadline=None)
def test_count_words_on_any_text(text: str) -> None:
    assert count_words(text) == len(_WORD.findall(text))


def _sanitize_by_pattern(text: str) -> str:
    """sanitize as it was, before it looked at the character classes first."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


# White space, letters, digits, punctuation, the stand-in and what it stands for, every kind of
# junk (C0/C1 controls, replacement, private use, plane 16, a lone surrogate), letters above
# Latin-1 and astral ones.
_MIXED = (
    " \n\t\r\xa0abcXYZ019!?.-_'\u00b7\u2019\u2013\u2026\ufffd\ufffe\ue000"
    "\x00\x07\x1f\x7f\x85\x9fé\u0416\u05d0\u4e2d\U0010fffd\U0001d400\ud800"
)


@given(st.text(alphabet=_MIXED, max_size=120))
@settings(max_examples=1000, deadline=None)
def test_sanitize_is_what_the_pattern_made_and_counts_follow_it(text: str) -> None:
    clean = sanitize(text)
    assert clean == _sanitize_by_pattern(text)
    # Classified before and after: the one-slot cache never answers for another text.
    assert count_words(clean) == len(_WORD.findall(clean))
    assert count_words(text) == len(_WORD.findall(text))


def test_the_classes_of_one_text_are_never_given_for_another() -> None:
    # Equal texts that are different objects, and a text of another length after them.
    first, second, third = "".join(["ab", " cd"]), "".join(["ab ", "cd"]), "a\x00b"
    assert sanitize(first) is first
    assert count_words(first) == 2
    assert count_words(second) == 2
    assert sanitize(third) == "ab"
    assert count_words(third) == 2
    assert count_words("ab") == 1
