"""Keyphrases ("topics") in the spirit of RAKE: candidate phrases are runs of content words
between stopwords and punctuation, scored by how often they occur and how long they are.

Counts are plain Counters, so chunks of a long document are counted separately and merged
exactly (summing), which keeps the map-reduce over chunks lossless for topics.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from .segmentation import stem

PhraseKey = tuple[str, ...]

_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_MAX_WORDS = 3
_DEPENDENT_SHARE = 0.7


def _content_runs(sentence: str, stopwords: frozenset[str]) -> list[list[str]]:
    """Maximal runs of adjacent content words; any punctuation or number breaks a run."""
    runs: list[list[str]] = []
    current: list[str] = []
    prev_end = 0
    for match in _TOKEN.finditer(sentence):
        token = match.group()
        if sentence[prev_end : match.start()].strip():
            # Something other than spaces between the words: punctuation, digits, symbols.
            if current:
                runs.append(current)
            current = []
        prev_end = match.end()
        lower = token.lower()
        is_content = lower not in stopwords and (
            len(token) >= 3 or (len(token) == 2 and token.isupper())
        )
        if is_content:
            current.append(token)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def count_phrases(
    sentences: Iterable[str], stopwords: frozenset[str]
) -> tuple[Counter[PhraseKey], Counter[tuple[PhraseKey, str]]]:
    """Occurrences of each candidate phrase (1-3 words, keyed by stems) and of each surface form."""
    counts: Counter[PhraseKey] = Counter()
    surfaces: Counter[tuple[PhraseKey, str]] = Counter()
    for sentence in sentences:
        for run in _content_runs(sentence, stopwords):
            stems = [stem(t.lower()) for t in run]
            for size in range(1, min(_MAX_WORDS, len(run)) + 1):
                for start in range(len(run) - size + 1):
                    key = tuple(stems[start : start + size])
                    counts[key] += 1
                    surfaces[(key, " ".join(run[start : start + size]))] += 1
    return counts, surfaces


def _contains(longer: PhraseKey, shorter: PhraseKey) -> bool:
    n = len(shorter)
    return any(longer[i : i + n] == shorter for i in range(len(longer) - n + 1))


def _place(
    key: PhraseKey, chosen: list[PhraseKey], counts: Counter[PhraseKey], can_add: bool
) -> None:
    """Add ``key`` to ``chosen`` (if ``can_add``) unless it repeats a chosen phrase; a longer
    phrase that carries most uses of a chosen shorter one takes its place (it is the better
    name for the topic)."""
    for i, other in enumerate(chosen):
        if not set(key) & set(other):
            continue
        if _contains(other, key):
            if counts[key] < 2 * counts[other]:
                return  # mostly seen inside the chosen phrase
        elif _contains(key, other):
            if counts[key] * 2 >= counts[other]:
                chosen[i] = key
                # The new name may now repeat another chosen phrase: keep the first one.
                del_at = [j for j, c in enumerate(chosen) if j != i and _contains(key, c)]
                for j in reversed(del_at):
                    del chosen[j]
            return  # else a rarer specialisation of a chosen topic: not a topic of its own
        elif counts[key] * 2 >= counts[other] and counts[other] * 2 >= counts[key]:
            return  # overlapping phrases of similar weight ("special attention service")
    if can_add:
        chosen.append(key)


def select_topics(
    counts: Counter[PhraseKey],
    surfaces: Counter[tuple[PhraseKey, str]],
    limit: int = 10,
    min_count: int = 2,
) -> list[str]:
    """The best ``limit`` phrases, without near-duplicates (a phrase and a part of it)."""
    if not counts:
        return []
    # Short documents repeat little: lower the bar rather than return nothing.
    threshold = min_count if any(c >= min_count for c in counts.values()) else 1

    def score(key: PhraseKey) -> float:
        # Occurrences weighted by length: a repeated multi-word term names a topic better
        # than a frequent single word.
        return float(counts[key] * len(key))

    # A phrase that almost only occurs inside one longer phrase ("directeur" in "plan
    # directeur") is no topic of its own: the longer phrase stands for it.
    enclosing: dict[PhraseKey, int] = {}
    for key, n in counts.items():
        if n < threshold or len(key) < 2:
            continue
        for size in range(1, len(key)):
            for start in range(len(key) - size + 1):
                part = key[start : start + size]
                enclosing[part] = max(enclosing.get(part, 0), n)
    ranked = sorted(
        (
            k
            for k, c in counts.items()
            if c >= threshold and enclosing.get(k, 0) < _DEPENDENT_SHARE * c
        ),
        key=lambda k: (-score(k), k),
    )
    chosen: list[PhraseKey] = []
    for key in ranked:
        full = len(chosen) >= limit
        if full and score(key) * 3 < min(score(c) for c in chosen):
            break  # too weak to replace anything any more
        _place(key, chosen, counts, can_add=not full)
    best_surface: dict[PhraseKey, tuple[int, str]] = {}
    for (key, surface), n in surfaces.items():
        if key in counts:
            held = best_surface.get(key)
            if held is None or (n, surface) > held:
                best_surface[key] = (n, surface)
    result: list[str] = []
    seen: set[str] = set()
    for key in chosen[:limit]:
        surface = best_surface[key][1] if key in best_surface else " ".join(key)
        if surface.lower() not in seen:
            seen.add(surface.lower())
            result.append(surface)
    return result
