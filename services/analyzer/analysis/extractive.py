"""The offline analysis itself, as pure CPU-bound functions run in a worker pool.

Map: each chunk is ranked on its own (TextRank over at most ``max_sentences_per_chunk``
sentences, so the quadratic part is bounded) and reduced to a small :class:`ChunkDigest`:
its best sentences, phrase counts, term document frequencies and sentiment sums.
Reduce: the best sentences of all chunks are ranked again as one graph, with document-wide
IDF and a teleport vector biased by the chunk-local scores; counts and sums are merged
exactly. Everything here is picklable and free of I/O, so it can run in another process.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.text import count_words, detect_language

from . import textrank
from .keywords import PhraseKey, count_phrases, select_topics
from .segmentation import Sentence, sentences, stem, words
from .sentiment import SentimentTally, score_sentences
from .stopwords import stopwords_for

# Two sentences sharing this much of their vocabulary say the same thing: keep one.
_REDUNDANT = 0.5
# Characters taken from the start and from the middle: plenty for langdetect, whose cost
# grows with its input.
_LANGUAGE_SAMPLE = 1000


@dataclass(frozen=True)
class ExtractiveSettings:
    max_sentences_per_chunk: int = 250
    candidates_per_chunk: int = 8
    max_reduce_candidates: int = 300
    max_summary_sentences: int = 6
    max_key_points: int = 6
    max_topics: int = 10


@dataclass(frozen=True)
class Candidate:
    text: str
    position: int
    chunk: int
    local_score: float  # centrality within its chunk; the chunk's mean is 1.0
    terms: tuple[str, ...]


@dataclass(frozen=True)
class ChunkDigest:
    index: int
    sentences: int
    quotable: int
    words: int
    candidates: list[Candidate]
    document_frequency: Counter[str]
    phrases: Counter[PhraseKey]
    surfaces: Counter[tuple[PhraseKey, str]]
    sentiment: SentimentTally
    opening: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Digest:
    summary: list[str]
    key_points: list[str]
    topics: list[str]
    sentiment: SentimentTally
    sentences: int
    words: int
    summary_is_fallback: bool


def language_sample(text: str) -> str:
    """What the language is judged on: the document's start and its middle (covers an English
    cover page before a body in another language, and the reverse)."""
    middle = len(text) // 2
    return text[:_LANGUAGE_SAMPLE] + "\n" + text[middle : middle + _LANGUAGE_SAMPLE]


def detect(sample: str) -> str | None:
    """Language of a :func:`language_sample` (run in a worker: langdetect is CPU work)."""
    return detect_language(sample)


def _terms(text: str, stop: frozenset[str]) -> tuple[str, ...]:
    return tuple(stem(w) for w in words(text) if len(w) > 2 and w not in stop)


def _evenly(items: Sequence[Sentence], limit: int) -> list[Sentence]:
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def _jaccard(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 1.0 if a == b else 0.0
    return len(sa & sb) / len(sa | sb)


def _pick(
    ranked: Sequence[Candidate], limit: int, avoid: Sequence[Candidate] = ()
) -> list[Candidate]:
    """The first ``limit`` of ``ranked`` that do not repeat each other or ``avoid``."""
    chosen: list[Candidate] = []
    for cand in ranked:
        if len(chosen) >= limit:
            break
        if any(
            cand.text == c.text or _jaccard(cand.terms, c.terms) >= _REDUNDANT
            for c in (*chosen, *avoid)
        ):
            continue
        chosen.append(cand)
    return chosen


def map_chunk(
    text: str, offset: int, index: int, language: str | None, settings: ExtractiveSettings
) -> ChunkDigest:
    stop = stopwords_for(language)
    sents = sentences(text, offset)
    quotable = [s for s in sents if s.quotable]
    ranked_pool = _evenly(quotable, settings.max_sentences_per_chunk)
    terms = [_terms(s.text, stop) for s in ranked_pool]

    df: Counter[str] = Counter()
    for s in sents:
        df.update(set(_terms(s.text, stop)))

    scores = textrank.rank(terms) if ranked_pool else []
    n = len(ranked_pool)
    by_score = sorted(
        (
            Candidate(s.text, s.position, index, score * n, t)
            for s, score, t in zip(ranked_pool, scores, terms, strict=True)
        ),
        key=lambda c: (-c.local_score, c.position),
    )
    phrases, surfaces = count_phrases((s.text for s in sents), stop)
    # Prose carries the tone; table rows and headings only pull the mean towards zero.
    scored = [s.text for s in quotable] or [s.text for s in sents if len(s.text.split()) >= 3]
    return ChunkDigest(
        index=index,
        sentences=len(sents),
        quotable=len(quotable),
        words=count_words(text),
        candidates=_pick(by_score, settings.candidates_per_chunk),
        document_frequency=df,
        phrases=phrases,
        surfaces=surfaces,
        sentiment=score_sentences(scored),
        opening=[s.text for s in sents[:3]] if index == 0 else [],
    )


def _summary_size(quotable: int, settings: ExtractiveSettings) -> int:
    # Grows slowly with the document: 2 sentences for a note, up to the maximum for a report.
    return min(quotable, max(2, min(settings.max_summary_sentences, 2 + quotable // 60)))


def _coverage_points(
    ranked: Sequence[Candidate], chunks: int, limit: int, avoid: Sequence[Candidate]
) -> list[Candidate]:
    """Key points spread over the document: the best sentence of each of up to ``limit``
    contiguous groups of chunks, so the end of a long document is represented too."""
    if chunks <= 1:
        return _pick(ranked, limit, avoid)
    groups = min(limit, chunks)
    points: list[Candidate] = []
    for g in range(groups):
        in_group = [c for c in ranked if c.chunk * groups // chunks == g]
        points.extend(_pick(in_group, 1, (*avoid, *points)))
    if len(points) < limit:
        points.extend(_pick(ranked, limit - len(points), (*avoid, *points)))
    return points


def reduce_digests(digests: Sequence[ChunkDigest], settings: ExtractiveSettings) -> Digest:
    digests = sorted(digests, key=lambda d: d.index)
    total_sentences = sum(d.sentences for d in digests)
    df: Counter[str] = Counter()
    phrases: Counter[PhraseKey] = Counter()
    surfaces: Counter[tuple[PhraseKey, str]] = Counter()
    tally = SentimentTally()
    for d in digests:
        df.update(d.document_frequency)
        phrases.update(d.phrases)
        surfaces.update(d.surfaces)
        tally = tally + d.sentiment

    pool = sorted(
        (c for d in digests for c in d.candidates), key=lambda c: (-c.local_score, c.position)
    )[: settings.max_reduce_candidates]
    topics = select_topics(phrases, surfaces, settings.max_topics)
    words_total = sum(d.words for d in digests)
    if not pool:
        opening = digests[0].opening if digests else []
        return Digest(opening, [], topics, tally, total_sentences, words_total, True)

    idf = textrank.idf_weights(df, max(total_sentences, 1))
    # Personalized PageRank: document-wide centrality, biased towards sentences that were
    # already central in their own chunk.
    scores = textrank.rank([c.terms for c in pool], idf, [c.local_score for c in pool])
    ranked = [
        c
        for _, c in sorted(zip(scores, pool, strict=True), key=lambda sc: (-sc[0], sc[1].position))
    ]
    quotable = sum(d.quotable for d in digests)
    summary = _pick(ranked, _summary_size(quotable, settings))
    points = _coverage_points(ranked, len(digests), settings.max_key_points, summary)
    if not points:
        points = summary  # a short text: its key points are its summary
    return Digest(
        summary=[c.text for c in sorted(summary, key=lambda c: c.position)],
        key_points=[c.text for c in sorted(points, key=lambda c: c.position)],
        topics=topics,
        sentiment=tally,
        sentences=total_sentences,
        words=words_total,
        summary_is_fallback=False,
    )
