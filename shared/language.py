"""Language detection with langdetect's profiles and algorithm, on a bounded sample, with
fewer trials when the answer is clear.

langdetect (a port of Google's Java language-detection) reads its whole input (up to 10,000
characters) one character at a time in Python, lists every n-gram of it, then runs seven
random trials that multiply 55 per-language probabilities for every n-gram drawn. On the short
documents the extractor mostly sees, that cost (~3-6 ms a document) was as large as pdfium's
reading of the whole document. This module keeps langdetect's profiles, normalizer and
constants, and its trials, and changes what they cost:

- it reads at most ``_MAX_CHARS`` characters of the text, in ``_WINDOWS`` windows of whole
  words spread evenly over it (two trials draw a few hundred n-grams: more text than this
  says nothing more);
- it lists no n-grams: a draw picks a position and a length (1 to 3) in the normalized text
  and takes that substring when langdetect would have listed it (a known n-gram, not inside
  a word in capitals), else draws again. That is a uniform draw from langdetect's list (no
  profile n-gram holds two spaces or a space inside, so a substring across words is never
  one), without building the list;
- a draw multiplies only the languages still in the running: one whose probability fell
  under ``_NEGLIGIBLE`` (1e-10) in a trial is out of that trial (it would need ten orders of
  magnitude back on the leader before the trial ends);
- the trials stop after ``_MIN_TRIALS`` when each of them so far named the same language with
  more than ``_DECISIVE`` (langdetect's trials run until one language holds 0.99999, so on a
  clear text they all name it); otherwise all seven run, as in langdetect;
- the smoothing weight is langdetect's mean one in every trial (langdetect jitters it by 10%
  from trial to trial), added once into each packed row.

So its answer is langdetect's wherever langdetect's is clear, not bit for bit: a text whose
language is in doubt (mixed, or a few words) may get another of the doubtful candidates, as
langdetect itself does from one seed to another. The draws come from a generator with a fixed
seed: the same text always gets the same answer. tests/shared/test_language.py compares it
with langdetect.
"""

from __future__ import annotations

import random
import re
import threading
from array import array
from collections.abc import Callable
from itertools import repeat
from operator import add, itemgetter, mul
from typing import Any

# langdetect's own cut-offs (Detector.cleaning_text): letters between 'A' and 'z' count as
# Latin; anything from U+0300 up counts as non-Latin except Latin Extended Additional.
_LATIN = re.compile("[A-z]")
_FROM_0300 = re.compile("[\u0300-\U0010ffff]")
_LATIN_EXTENDED_ADDITIONAL = re.compile("[\u1e00-\u1eff]")
_SPACE_RUN = re.compile(" {2,}")
# What the detector reads of a longer text: this many characters, in this many windows.
_MAX_CHARS = 1500
_WINDOWS = 3
# The trials stop once this many of them all named one language with more than _DECISIVE.
_MIN_TRIALS = 2
_DECISIVE = 0.99
_SEED = 0  # of the trials' draws: the same text, the same answer
# A language under this probability in a trial is out of it (see above).
_NEGLIGIBLE = 1e-10
# Draws at random before a text is taken to have no n-gram langdetect knows (then checked).
_FIRST_DRAWS = 64
# langdetect keeps each n-gram's 55 probabilities as 55 float objects allocated profile by
# profile, scattered over ~100 MB: a draw in a trial touched ~55 cache lines, and between two
# documents pdfium pushes them all out of the cache. The rows drawn are packed into arrays
# (440 bytes each, weight + probability), up to this many (~20 MB), kept across documents.
_MAX_PACKED_ROWS = 40_000

_lock = threading.Lock()
_model: _Model | None = None


class _Model:
    """What langdetect's factory loaded, plus the normalizer as a translation table."""

    def __init__(self) -> None:
        from langdetect import detector_factory
        from langdetect.detector import Detector
        from langdetect.utils.ngram import NGram

        detector_factory.init_factory()
        factory: Any = detector_factory._factory
        sample = factory.create()  # the defaults a fresh detector would use
        self.probabilities: dict[str, list[float]] = factory.word_lang_prob_map
        self.languages: list[str] = list(factory.langlist)
        self.alpha: float = sample.alpha
        self.trials: int = sample.n_trial
        self.max_text_length: int = sample.max_text_length
        if sample.prior_map is not None:
            raise RuntimeError("a prior map is not supported")  # never set by langdetect.detect
        self.iteration_limit: int = Detector.ITERATION_LIMIT
        self.prob_threshold: float = Detector.PROB_THRESHOLD
        self.conv_threshold: float = Detector.CONV_THRESHOLD
        self.base_freq: float = Detector.BASE_FREQ
        self.unknown: str = Detector.UNKNOWN_LANG
        self.url: re.Pattern[str] = Detector.URL_RE
        self.mail: re.Pattern[str] = Detector.MAIL_RE
        self.normalize_vi: Callable[[str], str] = NGram.normalize_vi
        # NGram.normalize changes characters of the Basic Multilingual Plane only (Latin,
        # punctuation, Arabic, kana, bopomofo, CJK, Hangul blocks); ~65,000 calls, once.
        table: dict[int, str] = {}
        for code in range(0x10000):
            char = chr(code)
            normalized = NGram.normalize(char)
            if normalized != char:
                table[code] = normalized
        self.normalize_table = table
        # The smoothing langdetect adds to every probability, at its mean.
        self.weight = self.alpha / self.base_freq
        # n-gram -> weight + its per-language probabilities, as one block of doubles.
        self.packed_rows: dict[str, array[float]] = {}


def _the_model() -> _Model:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _Model()
    return _model


def detect(text: str) -> str | None:
    """The language code ``langdetect.detect(text)`` gives where it is clear (see above), or
    None where langdetect raises for want of features."""
    model = _the_model()
    probabilities = language_probabilities(text, model)
    if probabilities is None:
        return None
    best, best_p = model.unknown, model.prob_threshold
    for language, p in zip(model.languages, probabilities, strict=True):
        # langdetect sorts the languages over the threshold by probability, a stable sort:
        # among equal ones the first in its list wins, as the strict '>' keeps it here.
        if p > best_p:
            best, best_p = language, p
    return best


def language_probabilities(text: str, model: _Model | None = None) -> list[float] | None:
    """The probability of each of ``_the_model().languages`` (as langdetect's
    Detector.langprob after its _detect_block), None: no n-gram to go by."""
    found = _detection(text, model)
    return None if found is None else found[0]


def _detection(text: str, model: _Model | None = None) -> tuple[list[float], int] | None:
    """The probabilities (the trials' average) and how many trials gave them."""
    model = model or _the_model()
    trials = _trials_of(text, model)
    if trials is None:
        return None
    return [sum(column) / len(trials) for column in zip(*trials, strict=True)], len(trials)


def _trials_of(text: str, model: _Model) -> list[list[float]] | None:
    """Each trial's probabilities, in the order they ran (None: no n-gram to go by)."""
    normalized = _cleaned(_appended(_spread(text), model)).translate(model.normalize_table)
    if not normalized.strip(" "):
        return None  # no letter at all
    rng = random.Random(_SEED)
    draw = _drawer(" " + normalized, model, rng.random)
    if draw is None:
        return None
    return _trials(draw, model)


def _spread(text: str) -> str:
    """At most about ``_MAX_CHARS`` characters of ``text``: ``_WINDOWS`` evenly spaced
    windows, each cut to whole words where it has a space or line break (a text in a script
    without spaces is cut anywhere)."""
    if len(text) <= _MAX_CHARS:
        return text
    width = (_MAX_CHARS - (_WINDOWS - 1)) // _WINDOWS  # and a space between two
    step = (len(text) - width) / (_WINDOWS - 1)
    windows = []
    for number in range(_WINDOWS):
        start = round(number * step)
        window = text[start : start + width]
        if number > 0:  # a word cut at the start: from the first break on
            cut = _first_break(window)
            if cut >= 0:
                window = window[cut + 1 :]
        if number < _WINDOWS - 1:  # a word cut at the end: up to the last break
            cut = max(window.rfind(" "), window.rfind("\n"))
            if cut >= 0:
                window = window[:cut]
        windows.append(window)
    return " ".join(windows)


def _first_break(text: str) -> int:
    space, newline = text.find(" "), text.find("\n")
    if space < 0 or 0 <= newline < space:
        return newline
    return space


def _appended(text: str, model: _Model) -> str:
    """Detector.append: URLs and mail addresses blanked, Vietnamese normalized, cut to the
    maximum length, runs of spaces made one."""
    text = model.url.sub(" ", text)
    text = model.mail.sub(" ", text)
    text = model.normalize_vi(text)
    return _SPACE_RUN.sub(" ", text[: model.max_text_length])


def _cleaned(text: str) -> str:
    """Detector.cleaning_text: Latin letters dropped from a text mostly in another script."""
    if text.isascii():
        return text  # no non-Latin character: nothing to drop
    latin = len(_LATIN.findall(text))
    non_latin = len(_FROM_0300.findall(text)) - len(_LATIN_EXTENDED_ADDITIONAL.findall(text))
    if latin * 2 < non_latin:
        return _LATIN.sub("", text)
    return text


def _drawer(text: str, model: _Model, rand: Callable[[], float]) -> Callable[[], str] | None:
    """A function drawing one of the n-grams langdetect would list for ``text`` (normalized,
    after a space), uniformly; None when there is none.

    A draw is a substring of 1 to 3 characters at a random place, taken when it is a known
    n-gram and does not end inside a word in capitals (langdetect's NGram lists nothing
    there: a capital after a capital), drawn again otherwise. Every n-gram langdetect lists
    is one such substring, and every such substring one it lists: no known n-gram has a
    space inside or two spaces, so those across two words are never taken."""
    known = model.probabilities
    places = 3 * len(text)

    def draw() -> str:
        while True:
            gram = _substring_ngram(text, int(rand() * places), known)
            if gram is not None:
                return gram

    if any(_substring_ngram(text, int(rand() * places), known) for _ in range(_FIRST_DRAWS)):
        return draw
    # Few of the substrings are n-grams, maybe none: list them (a short text).
    grams = _ngrams(text, known)
    if not grams:
        return None
    return lambda: grams[int(rand() * len(grams))]


def _substring_ngram(text: str, place: int, known: dict[str, list[float]]) -> str | None:
    """The substring at ``place`` (0 <= place < 3 * len(text): where it ends, and its length,
    1 to 3) when langdetect lists it as an n-gram of ``text``, else None."""
    end = place // 3 + 1
    start = end - place % 3 - 1
    if start < 0:
        return None
    gram = text[start:end]
    if gram in known and not (text[end - 1].isupper() and text[end - 2].isupper()):
        return gram
    return None


def _ngrams(text: str, known: dict[str, list[float]]) -> list[str]:
    """Detector._extract_ngrams on a normalized text: the known 1- to 3-grams, in order."""
    words = text.split(" ")
    last = len(words) - 1
    result: list[str] = []
    for index, word in enumerate(words):
        if word:  # a space after a space (or at the start) yields nothing
            # Every word but the last is followed by a space, which yields "x " and "xy ".
            result += _word_ngrams(word + " " if index < last else word, known)
    return result


def _word_ngrams(word: str, known: dict[str, list[float]]) -> list[str]:
    """NGram.add_char's window over one word (and its trailing space), from a fresh window."""
    out: list[str] = []
    window = " "
    capital = False
    for char in word:
        last = window[-1]
        window = (window[1:] if len(window) >= 3 else window) + char
        if char.isupper():
            if last.isupper():
                capital = True  # inside an all-capitals word: no n-grams
        else:
            capital = False
        if capital:
            continue
        for n in (1, 2, 3):
            if len(window) < n:
                break
            gram = window[-n:]
            if gram != " " and gram in known:
                out.append(gram)
    return out


def _trials(draw: Callable[[], str], model: _Model) -> list[list[float]]:
    """Detector._detect_block's trials, stopped early once they agree decisively: each
    trial's probabilities.

    Each trial is langdetect's: from equal odds, each n-gram drawn multiplies each language's
    probability by ``weight + p(n-gram | language)`` (through ``map`` over a packed row: no
    Python-level step per language), normalized every fifth draw, until one language holds
    more than ``conv_threshold`` or the iteration limit. The languages under ``_NEGLIGIBLE``
    at a normalization leave the trial. langdetect averages seven trials; here they stop
    after ``_MIN_TRIALS`` when every one so far named the same language with more than
    ``_DECISIVE``: on a text whose language is clear, the other trials say the same again.
    """
    languages = len(model.languages)
    rows = model.packed_rows
    conv_threshold, iteration_limit = model.conv_threshold, model.iteration_limit
    trials: list[list[float]] = []
    while len(trials) < model.trials:
        prob = [1.0 / languages] * languages
        running: list[int] = list(range(languages))  # the languages still in this trial
        pick: Callable[[array[float]], Any] | None = None  # their part of a row (None: all)
        draws = 0
        while True:
            for _ in range(5):
                gram = draw()
                row = rows.get(gram)
                if row is None:
                    row = _packed(gram, model)
                prob = list(map(mul, prob, row if pick is None else pick(row)))
            draws += 5
            total = sum(prob)
            if max(prob) / total > conv_threshold or draws >= iteration_limit:
                break
            # Detector._normalize_prob: each divided by the sum.
            prob = [p / total for p in prob]
            if min(prob) < _NEGLIGIBLE:
                # Two stay at least: the leader holds at most conv_threshold of the sum.
                kept = [i for i, p in enumerate(prob) if p >= _NEGLIGIBLE]
                running = [running[i] for i in kept]
                prob = [prob[i] for i in kept]
                pick = itemgetter(*running)
        trial = [0.0] * languages
        for language, p in zip(running, prob, strict=True):
            trial[language] = p / total
        trials.append(trial)
        if len(trials) >= _MIN_TRIALS and _decisive(trials):
            break
    return trials


def _packed(gram: str, model: _Model) -> array[float]:
    """weight + the n-gram's probability in each language, as one block of doubles."""
    row = array("d", map(add, repeat(model.weight), model.probabilities[gram]))
    if len(model.packed_rows) < _MAX_PACKED_ROWS:
        model.packed_rows[gram] = row
    return row


def _decisive(trials: list[list[float]]) -> bool:
    """Every trial named the same language, each with more than ``_DECISIVE``."""
    leaders = set()
    for prob in trials:
        top = max(prob)
        if top <= _DECISIVE:
            return False
        leaders.add(prob.index(top))
    return len(leaders) == 1
