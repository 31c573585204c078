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
