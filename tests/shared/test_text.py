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
