"""Language detection with langdetect's profiles and algorithm, on a bounded sample, in a few
vectorized passes over numpy arrays, with fewer trials when the answer is clear.

langdetect (a port of Google's Java language-detection) reads its whole input (up to 10,000
characters) one character at a time in Python, lists every n-gram of it, then runs seven
random trials that multiply 55 per-language probabilities for every n-gram drawn. On the short
documents the extractor mostly sees, that cost (~3-6 ms a document) was as large as pdfium's
reading of the whole document. This module keeps langdetect's profiles, normalizer and
constants, and its trials, and changes what they cost:

- it reads at most ``_MAX_CHARS`` characters of the text, in ``_WINDOWS`` windows of whole
  words spread evenly over it (two trials draw a few hundred n-grams: more text than this
  says nothing more);
- the profiles are read once per process, from langdetect's files with its arithmetic, but
  not through its loader (whose dict of ~87,600 lists of 55 Python floats would stay in
  memory for nothing). Every n-gram langdetect can list gets a row: ``log(weight +
  p(n-gram | language))`` for the 55 languages, as float32 (19 MB). A trial that multiplies
  those factors adds their logs instead: a draw costs a row's gather and a sum, not 55 Python
  multiplications, and no normalization is needed between check points;
- the n-grams of the text are listed on arrays of code points, without a Python step per
  character: each 1-, 2- and 3-gram ending at each place is encoded as an integer (its
  characters' numbers among the ~3,160 characters of the profiles, in mixed radix) and looked
  up in a hash table of the known n-grams' codes. That is langdetect's list, in its order:
  its window over the text restarts after a space, so what it lists ending at a place is the
  substring ending there, except across a space, and no n-gram it can list has a space inside
  or two spaces (those in a profile are left out of the table); it lists nothing where a
  capital follows a capital;
- each trial draws from that list with uniforms fixed once per process (a seeded generator:
  the same text always gets the same answer, and trial t always uses the t-th row of them),
  a batch of draws at a time: langdetect's convergence check (the normalized top probability
  over ``conv_threshold``, after the first draw and every fifth after it, and at the
  iteration limit) is evaluated at once on every check point of the batch, and the first one
  that passes ends the trial. The first ``_MIN_TRIALS`` trials run together, the others
  (when those are not decisive) together;
- the trials stop after ``_MIN_TRIALS`` when each of them so far named the same language with
  more than ``_DECISIVE`` (langdetect's trials run until one language holds 0.99999, so on a
  clear text they all name it); otherwise all seven run, as in langdetect;
- the smoothing weight is langdetect's mean one in every trial (langdetect jitters it by 10%
  from trial to trial), added once into each packed row.

What a detection costs is mostly its ~40 numpy calls, not their work: within the extractor,
pdfium's reading of a document leaves their code and tables out of the caches, and each call
then costs ~5-20 us (1-3 us warm). Hence one table read per character, codes by convolution,
both hash slots read at once, large first batches of draws: ~0.4 ms a document in the
pipeline, ~0.15-0.2 ms warm (benchmarks/changes.md).

So its answer is langdetect's wherever langdetect's is clear, not bit for bit: a text whose
language is in doubt (mixed, or a few words) may get another of the doubtful candidates, as
langdetect itself does from one seed to another. tests/shared/test_language.py compares it
with langdetect.
"""

from __future__ import annotations

import json
import re
import threading
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# What the detector reads of a longer text: this many characters, in this many windows.
_MAX_CHARS = 1500
_WINDOWS = 3
# The trials stop once this many of them all named one language with more than _DECISIVE.
_MIN_TRIALS = 2
_DECISIVE = 0.99
_SEED = 0  # of the trials' uniforms: the same text, the same answer
# Check points in the trials' first batch of draws (five draws each, after a first draw: 241
# draws; doubled for each further batch). Trials on the corpus end after ~100 draws, most
# within the first batch.
_FIRST_BATCH = 48
# langdetect's cut-offs (Detector.cleaning_text), as code points: letters between 'A' and 'z'
# count as Latin; anything from U+0300 up counts as non-Latin except Latin Extended Additional.
_LATIN_FIRST, _LATIN_LAST = ord("A"), ord("z")
_NON_LATIN_FROM = 0x300
_LATIN_EXTENDED_ADDITIONAL = (0x1E00, 0x1EFF)
# _Model.chars_read: a character's number in the low bits, and these flags.
_NUMBER_BITS = 12
_NUMBER = (1 << _NUMBER_BITS) - 1
_SCRIPT_SHIFT = 60  # 1: Latin, 2: not Latin, as Detector.cleaning_text counts
_LATIN, _NON_LATIN = 1 << _SCRIPT_SHIFT, 2 << _SCRIPT_SHIFT
# Above every n-gram's code (under radix**3 < 2**35), and still there when find shifts a
# code left to compare it with an entry: a code with it is no n-gram's.
_CAPITAL = 1 << 40
# The per-character tables cover the Basic Multilingual Plane (langdetect's normalizer changes
# nothing above it and no profile n-gram has a character above it); the entry at _ASTRAL
# stands for every character above it.
_ASTRAL = 0x10000
_ASTRAL_CHAR = re.compile("[\U00010000-\U0010ffff]")

Ids = npt.NDArray[np.int64]
Rows = npt.NDArray[np.uint64]  # rows of _Model.log_rows
Probabilities = list[float]  # one for each of _Model.languages

_lock = threading.Lock()
_model: _Model | None = None


class _Model:
    """langdetect's profiles packed for the vectorized detector, its normalizer as tables, its
    constants, and the trials' uniforms."""

    def __init__(self) -> None:
        from langdetect.detector import Detector
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
        from langdetect.utils.ngram import NGram

        sample = Detector(DetectorFactory())  # the defaults a fresh detector would use
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
        self.normalize_vi = NGram.normalize_vi
        self.vi_marks: str = NGram.DMARK_CLASS
        # The smoothing langdetect adds to every probability, at its mean.
        self.weight = self.alpha / self.base_freq

        # float32 keeps a log factor to ~1e-7 (relative); the trials sum them in float64.
        self.languages, grams, self.log_rows = _profiles(Path(PROFILES_DIRECTORY), self.weight)
        # Characters of the n-grams, numbered from 1; a character in none of them gets the
        # next number, in no n-gram's code. No digit is 0, so a code's length shows in its
        # size: a 3-gram's code is never a 2-gram's.
        self.chars: list[str] = sorted({char for gram in grams for char in gram})
        self.other = len(self.chars) + 1
        radix = len(self.chars) + 2
        self.radix = radix
        number = {char: index for index, char in enumerate(self.chars, 1)}

        def code(gram: str) -> int:
            value = 0
            for char in gram:
                value = value * radix + number[char]
            return value

        self.codes = np.array([code(gram) for gram in grams], dtype=np.int64)
        self.index = _CodeIndex(self.codes)
        # The codes of the 2- and 3-grams ending at each place: convolutions of the
        # characters' numbers with these.
        self.powers2 = np.array([1, radix], dtype=np.int64)
        self.powers3 = np.array([1, radix, radix**2], dtype=np.int64)
        if radix > _NUMBER or radix**3 >= _CAPITAL or _CAPITAL << _CodeIndex.ROW_BITS >= 1 << 63:
            raise RuntimeError("more characters than chars_read can number")

        # Per code point of the text (before normalization), in one table (one gather a
        # text): the number of the character NGram.normalize makes of it, whether that one
        # is a capital, and its script as Detector.cleaning_text counts. NGram.normalize
        # changes characters of the Basic Multilingual Plane only; ~65,000 calls, once.
        normalized = [NGram.normalize(chr(point)) for point in range(_ASTRAL)]
        read = [number.get(char, self.other) | _CAPITAL * char.isupper() for char in normalized]
        read.append(self.other)  # above the plane: capitals are seen to one by one
        self.chars_read = np.array(read, dtype=np.int64)
        self.chars_read[_LATIN_FIRST : _LATIN_LAST + 1] |= _LATIN
        self.chars_read[_NON_LATIN_FROM:] |= _NON_LATIN
        first, last = _LATIN_EXTENDED_ADDITIONAL
        self.chars_read[first : last + 1] &= ~_NON_LATIN
        # Each trial's uniforms, one per draw up to the iteration limit's check.
        draws = self.iteration_limit + 1
        self.uniforms = np.random.default_rng(_SEED).random((self.trials, draws))
        # langdetect checks after the first draw and every fifth after it. The first check
        # never passes: one n-gram gives a language at most (1 + weight) / (1 + 55 weight)
        # (0.9973), under conv_threshold. The others close groups of five draws.
        languages = len(self.languages)
        if (1 + self.weight) / (1 + languages * self.weight) > self.conv_threshold:
            raise RuntimeError("one n-gram could end a trial")  # not with langdetect's constants
        if (draws - 1) % 5:
            raise RuntimeError("the iteration limit is not a check point")
        self.check_points = (draws - 1) // 5

    def gram(self, row: int) -> str:
        """The n-gram of a row (for tests and debugging)."""
        value = int(self.codes[row])
        chars = []
        while value:
            value, digit = divmod(value, self.radix)
            chars.append(self.chars[digit - 1])
        return "".join(reversed(chars))


class _CodeIndex:
    """A hash table of the n-grams' codes, looked up for a whole array of codes at once.

    Cuckoo hashing: each code (with its row, ``code << ROW_BITS | row``: one 8-byte entry)
    sits in one of two slots, one from each of two multiplicative hashes. A lookup reads both
    slots of every code: two cache lines. After pdfium has read a document, the table is out
    of the caches, and a binary search over the ~87,600 sorted codes read ~17 a code (one
    array of keys and one of rows took 4)."""

    _BITS = 18  # 262,144 slots (2 MB), a third of them filled: insertions end quickly
    ROW_BITS = 17
    NONE = 1 << ROW_BITS  # what find gives from here up: no n-gram

    def __init__(self, codes: Ids) -> None:
        if len(codes) >= self.NONE:
            raise RuntimeError("more n-grams than the table's rows can number")
        self.shift = np.uint64(64 - self._BITS)
        rng = np.random.default_rng(_SEED)
        while True:  # other multipliers in the unlikely case of an endless cycle
            odd = rng.integers(0, 1 << 63, size=2, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            self.multipliers = (odd[0], odd[1])
            keys = codes.view(np.uint64)
            homes = [self._slots(keys, multiplier).tolist() for multiplier in self.multipliers]
            placed = _cuckoo(homes[0], homes[1], 1 << self._BITS)
            if placed is not None:
                break
        # An entry: the code, then the row. Empty: all ones, no code's.
        self.table = np.full(1 << self._BITS, np.iinfo(np.uint64).max, dtype=np.uint64)
        filled = np.array(placed, dtype=np.int64)
        in_use = filled >= 0
        entries = codes[filled[in_use]] << self.ROW_BITS | filled[in_use]
        self.table[in_use] = entries.view(np.uint64)

    def _slots(self, codes: Rows, multiplier: np.uint64) -> Rows:
        # The top bits of the product, which wraps at 64 bits.
        slots: Rows = (codes * multiplier) >> self.shift
        return slots

    def find(self, codes: Rows) -> Rows:
        """The row of each code; ``NONE`` or more where it is no known n-gram's.

        Both slots of every code are read, and each entry XORed with the code shifted as in
        an entry: the one holding the code leaves its row, any other ``NONE`` or more (so the
        smaller of the two is the answer). No second pass for the codes not in their first
        slot: its numpy calls cost more than the reads they would save."""
        key = codes << np.uint64(self.ROW_BITS)
        first = self.table[self._slots(codes, self.multipliers[0])]
        second = self.table[self._slots(codes, self.multipliers[1])]
        rows: Rows = np.minimum(first ^ key, second ^ key)
        return rows


def _cuckoo(first: list[int], second: list[int], size: int) -> list[int] | None:
    """Cuckoo insertion of entries 0..n-1, each first tried in its ``first`` slot: the entry
    in each slot (-1: none), or None if some insertion went on too long (then other hashes
    are needed)."""
    slots = [-1] * size
    for entry, slot in enumerate(first):
        moving = entry
        for _ in range(500):
            moving, slots[slot] = slots[slot], moving
            if moving < 0:
                break
            # The entry moved out goes to its other slot.
            slot = second[moving] if first[moving] == slot else first[moving]
        else:
            return None
    return slots


def _profiles(
    directory: Path, weight: float
) -> tuple[list[str], list[str], npt.NDArray[np.float32]]:
    """langdetect's profiles (DetectorFactory.load_profile's files and arithmetic: an n-gram's
    probability in a language is its count over the count of n-grams of its length): the
    languages, the n-grams langdetect can list, and ``log(weight + probability)`` for each
    (n-grams x languages). Languages in the order of their file names (langdetect's is the
    directory's order). Each profile's numbers are kept as two flat arrays until the matrix
    is filled: as Python objects, they would take more memory than the matrix."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    languages: list[str] = []
    rows: dict[str, int] = {}
    columns: list[tuple[array[int], array[float]]] = []
    for path in files:
        profile = json.loads(path.read_text(encoding="utf-8"))
        languages.append(profile["name"])
        totals = profile["n_words"]
        at, probabilities = array("q"), array("d")
        for gram, count in profile["freq"].items():
            if _listable(gram):
                at.append(rows.setdefault(gram, len(rows)))
                probabilities.append(1.0 * count / totals[len(gram) - 1])
        columns.append((at, probabilities))
        del profile
    log_rows = np.full((len(rows), len(languages)), np.log(weight), dtype=np.float32)
    for column, (at, probabilities) in enumerate(columns):
        log_rows[np.frombuffer(at, dtype=np.int64), column] = np.log(
            weight + np.frombuffer(probabilities)
        )
    return languages, list(rows), log_rows


def _listable(gram: str) -> bool:
    """Whether langdetect's window can ever hold ``gram``: 1 to 3 characters, not a space
    alone, no space inside and no two spaces (its window restarts after a space)."""
    return (
        1 <= len(gram) <= 3
        and gram != " "
        and "  " not in gram
        and not (len(gram) == 3 and gram[1] == " ")
    )


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


def _trials_of(text: str, model: _Model) -> list[Probabilities] | None:
    """Each trial's probabilities, in the order they ran (None: no n-gram to go by)."""
    rows = _listed(_appended(_spread(text), model), model)
    if not len(rows):
        return None
    return _trials(rows, model)


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
    maximum length.

    Its last step, runs of spaces made one, is left out: it changes nothing in the n-gram
    list (langdetect's window lists nothing at a space after a space and restarts the same
    after one space as after several). The mail pattern and the Vietnamese normalizer only
    change a text holding an '@' or one of the combining marks they join; each would try a
    match at every character of one that has none (~35 us on 1,500 characters)."""
    text = model.url.sub(" ", text)
    if "@" in text:
        text = model.mail.sub(" ", text)
    if not text.isascii() and any(mark in text for mark in model.vi_marks):
        text = model.normalize_vi(text)
    return text[: model.max_text_length]


def _code_points(text: str) -> npt.NDArray[np.uint32]:
    # A lone surrogate (text decoded with errors="surrogateescape") is a character like another.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _listed(text: str, model: _Model) -> Rows:
    """The rows of the n-grams Detector._extract_ngrams lists for ``text`` (appended), in its
    order: for each character, the known 1-, 2- and 3-gram ending there.

    A few numpy calls on the whole text, not one a character: after pdfium has read a
    document, each call's code and tables are out of the caches, and cost more than its
    work (~5-10 us)."""
    # After two spaces: the window langdetect starts from is a space, and a 3-gram with two
    # spaces is never listed (a space counts as neither Latin nor not in cleaning_text).
    points = _code_points("  " + text)
    astral = _ASTRAL_CHAR.search(text) is not None
    read = model.chars_read[np.minimum(points, _ASTRAL) if astral else points]
    if not text.isascii():
        # Detector.cleaning_text: Latin letters dropped from a text mostly in another script.
        scripts = (read >> _SCRIPT_SHIFT) & 3
        _, latin, non_latin = np.bincount(scripts, minlength=3).tolist()[:3]
        if latin and latin * 2 < non_latin:
            kept = scripts != 1
            read, points = read[kept], points[kept]
    if astral:
        for place in np.flatnonzero(points >= _ASTRAL).tolist():
            read[place] |= _CAPITAL if chr(points[place]).isupper() else 0  # a few
    if len(read) < 3:
        return np.empty(0, dtype=np.uint64)  # no character (np.convolve needs as many)
    numbers = read & _NUMBER
    # The codes of the 1-, 2- and 3-grams ending at each character of the text, in 3 blocks.
    codes = np.concatenate(
        (
            numbers[2:],
            np.convolve(numbers[1:], model.powers2, "valid"),
            np.convolve(numbers, model.powers3, "valid"),
        )
    )
    # A capital after a capital: inside a word in capitals, langdetect lists nothing. The
    # capital's bit makes the codes ending there no n-gram's.
    codes.reshape(3, -1)[:] |= read[2:] & read[1:-1] & _CAPITAL
    rows = model.index.find(codes.view(np.uint64)).reshape(3, -1)
    listed = rows.T.reshape(-1)  # by character, then length
    found: Rows = listed[listed < _CodeIndex.NONE]
    return found


def _trials(rows: Rows, model: _Model) -> list[Probabilities]:
    """Detector._detect_block's trials, stopped early once they agree decisively: each
    trial's probabilities. langdetect averages seven trials; here they stop after
    ``_MIN_TRIALS`` when every one so far named the same language with more than
    ``_DECISIVE``: on a text whose language is clear, the other trials say the same again.
    (When the first ones are not decisive, no longer run of them is: the others run together.)
    """
    trials = _run(rows, model.uniforms[:_MIN_TRIALS], model)
    if not _decisive(trials):
        trials += _run(rows, model.uniforms[_MIN_TRIALS:], model)
    return trials


def _run(rows: Rows, uniforms: npt.NDArray[np.float64], model: _Model) -> list[Probabilities]:
    """langdetect's trials, one for each row of ``uniforms``: from equal odds, each n-gram
    drawn (uniformly from ``rows``) multiplies each language's probability by ``weight +
    p(n-gram | language)``; after the first draw and every fifth after it, the probabilities
    are normalized and the trial ends when one language holds more than ``conv_threshold``,
    or at the iteration limit. Here in logs, all trials at once, a batch of check points at a
    time: each trial's probabilities where it ended.

    The batches are large (the first one, 241 draws, ends most trials on the corpus): after
    pdfium has read a document, each numpy call costs more than its work."""
    log_rows, threshold = model.log_rows, 1.0 / model.conv_threshold
    languages = log_rows.shape[1]
    found: list[Probabilities | None] = [None] * len(uniforms)
    running = list(range(len(uniforms)))
    before: npt.NDArray[np.floating[Any]]  # the logs before the batch (of the first draw)
    first, size = 0, _FIRST_BATCH
    while running:
        last = min(first + size, model.check_points)
        if first == 0:  # the first draw, then five for each check point
            picks = uniforms[:, : 5 * last + 1] * len(rows)
            drawn = log_rows[rows[picks.astype(np.intp)]]
            before, drawn = drawn[:, :1], drawn[:, 1:]
        else:
            picks = uniforms[running, 5 * first + 1 : 5 * last + 1] * len(rows)
            drawn = log_rows[rows[picks.astype(np.intp)]]
        # Each check point's five factors, in logs: summed, then summed over check points.
        groups = drawn.reshape(len(running), last - first, 5, languages)
        logs = groups.sum(axis=2, dtype=np.float64).cumsum(axis=1)
        logs += before
        odds = np.exp(logs - logs.max(axis=2, keepdims=True))
        # The top probability is 1 / sum: over conv_threshold when sum < 1 / threshold.
        sums = odds.sum(axis=2)
        converged = sums < threshold
        if last == model.check_points:
            converged[:, -1] = True  # the iteration limit
        ends = converged.argmax(axis=1).tolist()  # the first check point passed, or 0
        going = []
        for index, trial in enumerate(running):
            at = ends[index]
            if converged[index, at]:
                found[trial] = (odds[index, at] / sums[index, at]).tolist()
            else:
                going.append(index)
        before = logs[going, -1:]
        running = [running[index] for index in going]
        first, size = last, size * 2
    return [trial for trial in found if trial is not None]


def _decisive(trials: list[Probabilities]) -> bool:
    """Every trial named the same language, each with more than ``_DECISIVE``."""
    leaders = set()
    for prob in trials:
        top = max(prob)
        if top <= _DECISIVE:
            return False
        leaders.add(prob.index(top))
    return len(leaders) == 1
