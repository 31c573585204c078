"""Segmentation, chunking, TextRank, keyphrases and sentiment on small hand-made inputs."""

from __future__ import annotations

from collections import Counter

import pytest

from services.analyzer.analysis import textrank
from services.analyzer.analysis.chunking import split_chunks
from services.analyzer.analysis.keywords import count_phrases, select_topics
from services.analyzer.analysis.segmentation import is_quotable, sentences, split_sentences
from services.analyzer.analysis.sentiment import SentimentTally, score_sentences
from services.analyzer.analysis.stopwords import stopwords_for


def test_sentences_split_at_terminal_punctuation_but_not_abbreviations() -> None:
    text = "Dr. Smith met Mr. J. Doe in the U.S. today. They agreed! Did they sign? Yes."
    assert [s for _, s in split_sentences(text)] == [
        "Dr. Smith met Mr. J. Doe in the U.S. today.",
        "They agreed!",
        "Did they sign?",
        "Yes.",
    ]


def test_pdf_lines_are_joined_and_headings_kept_apart() -> None:
    text = (
        "INTRODUCTION\n"
        "The committee met on Monday to discuss the annual\n"
        "budget and agreed on the main priorities for the\n"
        "coming year after a long debate.\n"
        "\n"
        "• Roads will be repaired before the winter season starts.\n"
    )
    got = [s.text for s in sentences(text)]
    assert got == [
        "INTRODUCTION",
        "The committee met on Monday to discuss the annual budget and agreed on the main "
        "priorities for the coming year after a long debate.",
        "Roads will be repaired before the winter season starts.",
    ]


def test_positions_follow_document_order() -> None:
    found = sentences("First sentence is here. Second sentence follows.\n\nThird one.", 1000)
    positions = [s.position for s in found]
    assert positions == sorted(positions) and positions[0] >= 1000


@pytest.mark.parametrize(
    ("sentence", "quotable"),
    [
        ("The council approved the plan for new cycling paths last year.", True),
        ("Roads.", False),  # too short
        ("FEDERAL REGISTER VOL 85 NO 152 THURSDAY AUGUST SIX.", False),  # shouting
        ("12 345 678 910 1112 1314 1516 and 1718.", False),  # numbers
        ("the sentence starts in the middle of something else entirely.", False),
        ("A sentence without an ending and it goes on and on", False),
    ],
)
def test_quotable(sentence: str, quotable: bool) -> None:
    assert is_quotable(sentence) is quotable


def test_chunks_cover_the_text_and_respect_the_size() -> None:
    paragraph = "This sentence is part of a paragraph. " * 30
    text = "\n\n".join(paragraph for _ in range(10))
    chunks = split_chunks(text, 3000)
    assert len(chunks) > 3
    assert all(len(c.text) <= 3000 for c in chunks)
    assert "".join(c.text for c in chunks) == text
    assert all(text[c.start : c.start + len(c.text)] == c.text for c in chunks)
    # Cuts fall at paragraph or sentence ends, never inside a word.
    assert all(c.text.rstrip().endswith(".") for c in chunks)


def test_chunking_an_unbroken_string_still_terminates() -> None:
    chunks = split_chunks("x" * 10_000, 3000)
    assert [len(c.text) for c in chunks] == [3000, 3000, 3000, 1000]
    with pytest.raises(ValueError):
        split_chunks("abc", 0)


def test_pagerank_sums_to_one_and_favours_the_hub() -> None:
    # Node 0 is linked to everyone; the others only to node 0.
    graph = [{1: 1.0, 2: 1.0, 3: 1.0}, {0: 1.0}, {0: 1.0}, {0: 1.0}, {}]
    scores = textrank.pagerank(graph)
    assert sum(scores) == pytest.approx(1.0)
    assert scores[0] == max(scores)
    assert scores[4] == min(scores)  # isolated


def test_personalization_moves_rank() -> None:
    graph = [{1: 1.0}, {0: 1.0, 2: 1.0}, {1: 1.0}]
    plain = textrank.pagerank(graph)
    biased = textrank.pagerank(graph, personalization=[0.0, 0.0, 1.0])
    assert biased[2] > plain[2]
    assert plain[0] == pytest.approx(plain[2])


def test_textrank_picks_the_central_sentence() -> None:
    units = [
        ["budget", "road", "school"],
        ["budget", "road"],
        ["budget", "school"],
        ["road", "school"],
        ["weather", "sunny"],
    ]
    scores = textrank.rank(units)
    assert scores.index(max(scores)) == 0
    assert scores.index(min(scores)) == 4


def test_topics_prefer_repeated_phrases_and_skip_stopwords() -> None:
    text = [
        "The active transport plan improves cycling paths.",
        "The active transport plan was approved by the council.",
        "Cycling paths connect the villages.",
        "The council will fund the active transport plan.",
        "Cycling paths need winter maintenance.",
    ]
    counts, surfaces = count_phrases(text, stopwords_for("en"))
    topics = select_topics(counts, surfaces, limit=5)
    assert topics[0] == "active transport plan"
    assert "Cycling paths" in topics or "cycling paths" in topics
    assert not {"the", "will", "was"} & {t.lower() for t in topics}
    # "transport" alone only ever occurs inside "active transport plan": no topic of its own.
    assert "transport" not in topics


def test_phrase_counts_merge_exactly_across_chunks() -> None:
    first = ["Solar panels are cheap.", "Solar panels last long."]
    second = ["Solar panels need sun."]
    a, _ = count_phrases(first, stopwords_for("en"))
    b, _ = count_phrases(second, stopwords_for("en"))
    whole, _ = count_phrases(first + second, stopwords_for("en"))
    assert a + b == whole
    assert whole[("solar", "panels")] == 3


def test_stopwords_cover_several_languages() -> None:
    assert {"the", "les", "der", "los"} <= stopwords_for(None)
    assert "les" in stopwords_for("fr") and "the" in stopwords_for("fr")
    assert "der" not in stopwords_for("fr")


def test_sentiment_labels() -> None:
    positive = score_sentences(["This is a wonderful, excellent result.", "We love it."])
    negative = score_sentences(["This is a terrible, awful failure.", "We hate it."])
    neutral = score_sentences(["The meeting is on Tuesday.", "The room is on floor two."])
    assert positive.label() == "positive" and positive.mean > 0.5
    assert negative.label() == "negative" and negative.mean < -0.5
    assert neutral.label() == "neutral"
    mixed = positive + negative
    assert mixed.count == 4 and mixed.label() == "mixed"


def test_sentiment_tally_of_nothing_is_neutral() -> None:
    assert SentimentTally().label() == "neutral" and SentimentTally().mean == 0.0


def test_counter_types_survive() -> None:
    counts, surfaces = count_phrases(["Green energy matters."], stopwords_for("en"))
    assert isinstance(counts, Counter) and isinstance(surfaces, Counter)
