"""Sentence segmentation and word tokens for extractive analysis.

Text from PDFs is laid out in lines: a sentence runs over several lines, and headings, page
numbers and table cells sit on lines of their own. We first group lines into paragraphs (layout
cues), then split paragraphs into sentences at terminal punctuation. A sentence's text is the
document's text with whitespace runs collapsed to one space and nothing else changed, so a
summary built from them quotes the document verbatim.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

_WS = re.compile(r"\s+")
# Letters only, hyphenated compounds kept whole; apostrophes split ("l'article" -> l, article).
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_ANY_WORD = re.compile(r"\w+")
_LETTER = re.compile(r"[^\W\d_]")
_FIRST_LETTER = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")
_BULLET = re.compile(
    "^\\s*(?:[\u2022\u25aa\u25cf\u25e6\u2023\u2219\u00b7*\u00a7]|[-\u2013\u2014](?=\\s)"
    "|\\(?[0-9]{1,2}[.)](?=\\s)|\\(?[a-z][.)](?=\\s))"
)
# A sentence ends at . ! ? … (maybe followed by closing quotes/brackets), then space, then
# something that can start a sentence.
_CLOSERS = "\"'\u201d\u2019\u00bb)\\]"  # closing quotes and brackets after a full stop
_OPENERS = "\"'\u201c\u2018\u00ab(\\["  # opening quotes and brackets before a sentence
_BOUNDARY = re.compile(f"[.!?\u2026]+[{_CLOSERS}]*\\s+(?=[{_OPENERS}]?[^\\W_a-z])")
# Bullets and dingbats before a sentence are layout, not text: dropped from the sentence start.
_LEADING_SYMBOLS = re.compile(f"^[^\\w{_OPENERS}]+")
_ENDS_SENTENCE = re.compile(f"[.!?\u2026][{_CLOSERS}]*$")
# Words after which a period does not end a sentence.
_ABBREVIATION_LIST = """mr mrs ms dr prof sr jr st vs etc e.g i.e cf no nos vol fig figs pp p art al
    approx dept est inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec mme mlle mm
    env ch resp nr bzw ca ggf usw sra sr dra u.s u.k n.b"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    # Character offset of the sentence's paragraph in the whole document, plus the offset within
    # the paragraph: only used to put sentences back in document order.
    position: int
    # Good enough to quote in a summary (a real sentence, not a heading or a table row).
    quotable: bool


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


def words(text: str) -> list[str]:
    """Lower-cased letter words (no numbers), the unit of similarity and keyword scoring."""
    return [w.lower() for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """Truncation stemming: cheap, language-neutral, and enough to merge plural/singular."""
    return word[:7]


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(offset, text) of layout paragraphs in ``text`` (newlines already normalized)."""
    lines: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, line))
        offset += len(line) + 1
    lengths = [len(line.strip()) for _, line in lines if line.strip()]
    if not lengths:
        return []
    # A line much shorter than the usual line ends its paragraph (a heading, a page number,
    # the last line of a paragraph); the usual width comes from the text itself.
    short = 0.55 * statistics.median(lengths)

    result: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0

    def flush() -> None:
        if buffer:
            joined = collapse_ws(" ".join(buffer))
            if joined:
                result.append((start, joined))
            buffer.clear()

    for line_offset, line in lines:
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if _BULLET.match(line):
            flush()
        if not buffer:
            start = line_offset
        buffer.append(stripped)
        if len(stripped) < short and not stripped.endswith(("-", ",", "\u2013")):
            flush()
    flush()
    return result


def _is_abbreviation(paragraph: str, period_at: int) -> bool:
    """Whether the period at ``period_at`` belongs to an abbreviation or an initial."""
    start = period_at
    while start > 0 and (paragraph[start - 1].isalpha() or paragraph[start - 1] == "."):
        start -= 1
    token = paragraph[start:period_at].lower()
    return len(token) == 1 or token in _ABBREVIATIONS


def split_sentences(paragraph: str) -> list[tuple[int, str]]:
    """(offset in paragraph, sentence) pieces of one whitespace-collapsed paragraph."""
    pieces: list[tuple[int, str]] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        if match.group()[0] == "." and _is_abbreviation(paragraph, match.start()):
            continue
        end = match.end()
        piece = paragraph[start:end].strip()
        if piece:
            pieces.append((start, piece))
        start = end
    tail = paragraph[start:].strip()
    if tail:
        pieces.append((start, tail))
    return pieces


def is_quotable(sentence: str) -> bool:
    """A real prose sentence: starts with a capital, ends with terminal punctuation, mostly
    lower-case words, not too short to mean anything, not so long it is a run-on table."""
    # Cheapest tests first: most rejected pieces (headings, cells) fail one of these.
    if not _ENDS_SENTENCE.search(sentence):
        return False
    first_letter = _FIRST_LETTER.search(sentence)
    if first_letter is None or not first_letter.group().isupper():
        return False
    tokens = _ANY_WORD.findall(sentence)
    if not 6 <= len(tokens) <= 70:
        return False
    letter_words = _WORD.findall(sentence)
    if len(letter_words) < 0.6 * len(tokens):
        return False  # mostly numbers: a table row or a reference list
    shouting = sum(1 for w in letter_words if len(w) > 1 and w.isupper())
    if shouting > 0.3 * len(letter_words):
        return False
    non_space = len(sentence) - len(_SPACE.findall(sentence))
    return len(_LETTER.findall(sentence)) >= 0.7 * non_space


def sentences(text: str, base_offset: int = 0) -> list[Sentence]:
    """All sentences of ``text`` in order; ``base_offset`` is ``text``'s place in the document."""
    result: list[Sentence] = []
    for para_offset, para in paragraphs(normalize_newlines(text)):
        for offset, raw in split_sentences(para):
            piece = _LEADING_SYMBOLS.sub("", raw)
            if not piece:
                continue
            result.append(Sentence(piece, base_offset + para_offset + offset, is_quotable(piece)))
    return result
