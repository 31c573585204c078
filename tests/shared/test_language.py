# ruff: noqa: RUF001 - texts in many scripts, on purpose
"""shared.language must give langdetect's probabilities exactly, not approximately."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from langdetect import DetectorFactory, detector_factory
from langdetect.lang_detect_exception import LangDetectException

from shared import language
from shared.text import detect_language

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

SAMPLES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Le plan directeur de transport actif de la ville est adopté.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "سلام عليكم، هذا نص عربي قصير للتجربة مع بعض الكلمات الإضافية.",
    "זהו טקסט קצר בעברית לבדיקה של זיהוי השפה.",
    "これは日本語のテキストです。カタカナもひらがなも漢字もあります。",
    "这是一个中文句子，用来测试语言检测。",
    "한국어 문장입니다. 언어 감지를 시험합니다.",
    "Tiếng Việt có dấu: Hà Nội, Việt Nam, người, được, những.",
    "Tie\u0302\u0301ng Vie\u0323\u0302t co\u0301 da\u0302\u0301u (combining marks).",
    "ALL CAPITALS HEADER THEN Some Mixed Words and NASA, USA, the EU.",
    "Visit https://example.org/a?b=c or write to someone@example.com today, please!",
    "Spaces    and\ttabs\n\nand new lines   and ... punctuation!!! ??? — “quotes” ‘here’",
    "Latin words in a Cyrillic text: это текст with some English слова внутри него.",
    "Ελληνικά κείμενα για δοκιμή της ανίχνευσης γλώσσας.",
    "ok ok ok",
    "123 456 789 !!! ???",
    "Ș ș Ț ț Romanian comma-below letters: ştiinţă știință",
    "\U0001d400\U0001d401 astral letters and emoji \U0001f600 in English text here.",
    "a",
    "",
]


def _langdetect_probabilities(text: str) -> list[float] | None:
    detector_factory.init_factory()
    detector = detector_factory._factory.create()
    detector.append(text)
    try:
        detector.get_probabilities()
    except LangDetectException:
        return None
    return list(detector.langprob)


def _corpus_texts() -> list[str]:
    from services.extractor.extraction.dispatch import extract_pages

    texts = []
    for path in sorted((CORPUS / "pdf").glob("*.pdf")):
        try:
            texts.append("\n\n".join(extract_pages(path))[:4000])
        except Exception:  # noqa: BLE001 - encrypted, empty: no text to compare
            continue
    return texts


def _shuffled_samples() -> list[str]:
    """Words of the samples mixed at random: texts no one chose."""
    rng = random.Random(7)
    words = " ".join(SAMPLES).split(" ")
    return [" ".join(rng.choices(words, k=rng.randint(1, 300))) for _ in range(40)]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    detect_language("This short sentence sets the seed as the service does.")
    assert DetectorFactory.seed == 0


@pytest.mark.parametrize("text", SAMPLES)
def test_same_probabilities_as_langdetect(text: str) -> None:
    assert language.language_probabilities(text) == _langdetect_probabilities(text)


def test_same_probabilities_on_corpus_and_random_texts() -> None:
    texts = _corpus_texts() + _shuffled_samples()
    assert len(texts) > 40
    for text in texts:
        assert language.language_probabilities(text) == _langdetect_probabilities(text), text[:80]


def test_same_answer_as_langdetect() -> None:
    from langdetect import detect

    for text in SAMPLES + _shuffled_samples():
        try:
            expected: str | None = detect(text)
        except LangDetectException:
            expected = None
        assert language.detect(text) == expected, text[:80]
