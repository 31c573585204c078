"""Document sentiment from VADER sentence scores.

VADER scores short texts; on a whole document its compound score saturates at +-1 because it
sums word valences. So we score sentence by sentence and keep sums that merge across chunks.
VADER's lexicon is English: for other languages the label is a weak guess, which the provider
says in a warning rather than hiding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

SentimentLabel = Literal["positive", "negative", "neutral", "mixed"]

# VADER's own convention for the compound score of one text.
_NEUTRAL_BAND = 0.05
# A sentence this far from zero clearly leans one way.
_STRONG = 0.5
# Both leanings present in at least this share of the sentences while the mean stays small:
# the document argues both ways ("mixed") rather than being flat ("neutral").
_MIXED_SHARE = 0.15
_MIXED_MEAN = 0.15


@cache
def _analyzer() -> Any:
    # Imported lazily: it loads its lexicon file, which every worker process does once.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@dataclass(frozen=True, slots=True)
class SentimentTally:
    """Mergeable sums over scored sentences."""

    total: float = 0.0
    count: int = 0
    strong_positive: int = 0
    strong_negative: int = 0

    def __add__(self, other: SentimentTally) -> SentimentTally:
        return SentimentTally(
            self.total + other.total,
            self.count + other.count,
            self.strong_positive + other.strong_positive,
            self.strong_negative + other.strong_negative,
        )

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def label(self) -> SentimentLabel:
        mean = self.mean
        if self.count and abs(mean) < _MIXED_MEAN:
            pos = self.strong_positive / self.count
            neg = self.strong_negative / self.count
            if pos >= _MIXED_SHARE and neg >= _MIXED_SHARE:
                return "mixed"
        if mean >= _NEUTRAL_BAND:
            return "positive"
        if mean <= -_NEUTRAL_BAND:
            return "negative"
        return "neutral"


def score_sentences(sentences: list[str]) -> SentimentTally:
    analyzer = _analyzer()
    total = 0.0
    strong_pos = strong_neg = 0
    for sentence in sentences:
        compound = float(analyzer.polarity_scores(sentence)["compound"])
        total += compound
        strong_pos += compound >= _STRONG
        strong_neg += compound <= -_STRONG
    return SentimentTally(total, len(sentences), strong_pos, strong_neg)
