"""Bytes to text for the text formats (plain, Markdown, HTML, CSV), in whatever encoding."""

from __future__ import annotations

import functools
import re
import unicodedata

import charset_normalizer

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_SNIFF_BYTES = 8192
# Text has almost no C0 control characters besides whitespace; binary data has plenty.
_MAX_CONTROL_SHARE = 0.02
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")

# Bytes that are not UTF-8, as surrogateescape leaves them (one surrogate per byte).
_STRAYS = re.compile("[\udc80-\udcff]+")
_ASCII = bytes(range(128))
_HIGH = bytes(range(128, 256))
# Legacy text read as UTF-8 has at most about one byte in a valid multi-byte sequence per
# invalid byte (EUC-JP 0.9, GBK and Shift-JIS 0.5, Latin-1 and cp1251 none); UTF-8 with a stray
# byte or two has hundreds. At least 8 per stray byte leaves a wide margin either side.
_UTF8_BYTES_PER_STRAY = 8

# What the candidate readings of a legacy file are judged on: enough words to tell, and cheap
# (a dozen candidates are read).
_JUDGE_BYTES = 16 * 1024
# Western text is the commonest legacy text we get, and charset-normalizer's ranking between
# the Latin code pages is close to arbitrary on short text (cp1257 or cp1006 for French).
# cp1252 rather than latin-1: the bytes where they differ (0x80-0x9f) are C1 controls in latin-1,
# which text never holds, and curly quotes, dashes and the euro sign in cp1252.
_WESTERN = "cp1252"
# Code pages that read other ones' text as believably as their own, and are seldom what a file
# is in: Kazakh ones read Ukrainian cp1251 ("Украүна").
_RARE = frozenset({"kz1048", "ptcp154"})
# Our own cp1252 reading (not one charset-normalizer proposed) must be mostly believable to be
# taken for text at all: random bytes also decode as cp1252.
_MAX_DOUBTFUL_SHARE = 0.25


def decode_text(data: bytes) -> str | None:
    """The text in ``data``, or None when it is not text in an encoding we can tell."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    has_nul = b"\x00" in data[:_SNIFF_BYTES]
    if has_nul:
        text = _decode_wide(data)
    else:
        try:
            # Most text is UTF-8, and a strict decode is the cheapest exact test for it.
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_mostly_utf8(data)
            if text is None:
                text = _decode_legacy(data)
    if text is None:
        return None
    return text if looks_like_text(text[:_SNIFF_BYTES]) else None


def _decode_wide(data: bytes) -> str | None:
    # NUL bytes only occur in text encoded as UTF-16/32 (here without a BOM).
    best = charset_normalizer.from_bytes(data).best()
    if best is None or not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    return data.decode(best.encoding, "replace")


def _decode_mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few bytes that are not (mixed-encoding exports, concatenated logs)."""
    # The head first: a legacy file is told at once, without reading all of it as UTF-8.
    head = data[:_JUDGE_BYTES]
    if len(data) > len(head):
        # Not a character cut in two at the end (its bytes would look stray).
        head = head[:-3] + head[-3:].rstrip(_HIGH)
    if not _mostly_utf8(head):
        return None
    text = data.decode("utf-8", "surrogateescape")
    if not _mostly_utf8(data, text):
        return None
    # A stray byte is read as cp1252 rather than replaced by U+FFFD: the usual source is a line
    # written in Windows-1252/Latin-1 among UTF-8 ones, which this restores exactly ("José", not
    # "Jos\ufffd"); a byte that is really damaged is one wrong character either way.
    return _STRAYS.sub(
        lambda run: run.group().encode("utf-8", "surrogateescape").decode(_WESTERN, "replace"),
        text,
    )


def _mostly_utf8(data: bytes, text: str | None = None) -> bool:
    if text is None:
        text = data.decode("utf-8", "surrogateescape")
    strays = len(text) - len(_STRAYS.sub("", text))
    valid = len(data.translate(None, _ASCII)) - strays
    return strays * _UTF8_BYTES_PER_STRAY <= valid


def _decode_legacy(data: bytes) -> str | None:
    """A single- or double-byte code page: charset-normalizer's candidates and cp1252, the one
    whose reading is the most believable text (cp1252 when they are as good)."""
    sample = data[:_JUDGE_BYTES]
    proposed = [
        match.encoding
        for match in charset_normalizer.from_bytes(data)
        # Without a NUL byte the text is not UTF-16/32 (a space or a digit would have one),
        # and pairs of Latin bytes read as UTF-16 make believable CJK ideographs.
        if not match.encoding.startswith(("utf_16", "utf_32"))
    ]
    readings = {encoding: _read(sample, encoding) for encoding in [_WESTERN, *proposed]}
    scored = {encoding: _doubt(reading) for encoding, reading in readings.items()}
    # Among equals: cp1252, then charset-normalizer's order with the rare look-alikes last.
    encoding = min(readings, key=lambda name: (scored[name], name in _RARE))
    if encoding not in proposed:
        non_ascii = sum(1 for ch in readings[_WESTERN] if ord(ch) > 0x7F)
        if scored[_WESTERN] > _MAX_DOUBTFUL_SHARE * max(1, non_ascii):
            return None
    return data.decode(encoding, "replace")


def _read(sample: bytes, encoding: str) -> str:
    # The sample may end inside a multi-byte character.
    return sample.decode(encoding, "replace").rstrip("\ufffd")


def looks_like_text(sample: str) -> bool:
    if not sample:
        return True
    controls = sum(
        1 for ch in sample if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    return controls / len(sample) <= _MAX_CONTROL_SHARE


# --- how believable a reading is ---
#
# A wrong code page turns the bytes of accented letters into other characters. What gives it
# away: characters text does not hold (controls, private use, box drawing, Arabic presentation
# forms), symbols inside words ("Za¿ó³æ"), words that mix alphabets ("Mьller"), a CJK character
# alone inside a Latin word, and accented Latin letters no one language writes together
# ("Réunion ŕ ... fętes": Slovak and Polish letters in one French sentence).

# Lower-case letters beyond ASCII that each language writes (Latin script).
_LATIN_ALPHABETS = tuple(
    frozenset(letters)
    for letters in (
        "àâæçéèêëîïôœùûüÿ",  # French
        "äöüß",  # German
        "áéíñóúü",  # Spanish
        "áâãàçéêíóôõú",  # Portuguese
        "àèéìíîòóùú",  # Italian
        "àçèéíïòóúü",  # Catalan
        "áäéëïóöü",  # Dutch
        "æøåé",  # Danish, Norwegian
        "åäöéšž",  # Swedish, Finnish
        "áæðéíóöúýþ",  # Icelandic
        "áðæøíóúý",  # Faroese
        "äõöüšž",  # Estonian
        "çë",  # Albanian
        "áâäéêëíîïóôöúûü",  # Afrikaans, Welsh
        "áčďéěíňóřšťúůýž",  # Czech
        "áäčďéíĺľňóôŕšťúýž",  # Slovak
        "ąćęłńóśźż",  # Polish
        "áéíóöőúüű",  # Hungarian
        "ăâîșțşţ",  # Romanian
        "čćđšž",  # Croatian, Bosnian, Slovene, Serbian (Latin)
        "çğıöşüâîû",  # Turkish
        "ąčęėįšųūž",  # Lithuanian
        "āčēģīķļņšūž",  # Latvian
        "ċġħżàèìòù",  # Maltese
        "ĉĝĥĵŝŭ",  # Esperanto
        "àáâãèéêìíòóôõùúýăđĩũơư",  # Vietnamese (tones as combining marks)
    )
)
# Scripts written without spaces between words: a "word" is a whole phrase, and Latin words
# sit inside it.
_UNSPACED = frozenset({"CJK", "HANGUL", "THAI", "LAO", "KHMER", "MYANMAR"})
_SCRIPT_OF_NAME = {
    "CJK": "CJK",
    "HIRAGANA": "CJK",
    "KATAKANA": "CJK",
    "KATAKANA-HIRAGANA": "CJK",
    "HALFWIDTH": "CJK",
    "FULLWIDTH": "CJK",
    "IDEOGRAPHIC": "CJK",
    "BOPOMOFO": "CJK",
}
_ODD_RANGES = (
    (0x2310, 0x2321),  # DOS code pages' technical signs
    (0x2500, 0x259F),  # box drawing, blocks
    (0xFB1D, 0xFDFF),  # Hebrew and Arabic presentation forms
    (0xFE50, 0xFE6F),  # small form variants (CNS 11643 compatibility)
    (0xFE70, 0xFEFF),
    (0xFFFD, 0xFFFD),
)
# Punctuation that does sit inside words: apostrophes, the Catalan middle dot, hyphens.
_IN_WORD = frozenset("\u2019\u2018\u00b7\u2010\u2011\u00ad\u02bc")
_ODD, _SYMBOL, _NEUTRAL = "odd", "symbol", "neutral"


@functools.lru_cache(maxsize=8192)
def _kind(ch: str) -> str:
    """A non-ASCII character: its script when it is a letter, else odd, symbol or neutral."""
    code = ord(ch)
    if any(low <= code <= high for low, high in _ODD_RANGES):
        return _ODD
    category = unicodedata.category(ch)
    if category in ("Cc", "Co", "Cn", "Cs"):
        return _ODD if ch not in _TEXT_CONTROLS else _NEUTRAL
    if ch.isalpha():
        if ch == "\u02c6":  # cp1252's 0x88, a modifier letter only by its category
            return _SYMBOL
        first = unicodedata.name(ch, "?").split(" ", 1)[0]
        return _SCRIPT_OF_NAME.get(first, first)
    if ch in _IN_WORD or category[0] in "MZC" or category == "Nd":
        return _NEUTRAL
    return _SYMBOL


def _doubt(text: str) -> int:
    """How many characters of ``text`` look like a wrong reading of its bytes."""
    doubt = 0
    latin: dict[str, int] = {}
    for word in text.split():
        if word.isascii():
            continue
        kinds = ["LATIN" if ch.isascii() and ch.isalpha() else _kind(ch) for ch in word]
        for index, (ch, kind) in enumerate(zip(word, kinds, strict=True)):
            if kind == _ODD:
                doubt += 1
            elif kind == _SYMBOL and ord(ch) > 0x7F:
                between = 0 < index < len(word) - 1
                if between and _in_alphabet(kinds[index - 1]) and _in_alphabet(kinds[index + 1]):
                    doubt += 1
            elif kind == "LATIN" and not ch.isascii():
                lower = ch.lower() if len(ch.lower()) == 1 else ch
                latin[lower] = latin.get(lower, 0) + 1
        doubt += _mixed_scripts(word, kinds)
    if latin:
        total = sum(latin.values())
        covered = max(
            sum(n for ch, n in latin.items() if ch in alphabet) for alphabet in _LATIN_ALPHABETS
        )
        doubt += total - covered
    return doubt


def _is_letter(kind: str) -> bool:
    return kind not in (_ODD, _SYMBOL, _NEUTRAL)


def _in_alphabet(kind: str) -> bool:
    # Punctuation between CJK characters is normal: their words are not spaced.
    return _is_letter(kind) and kind not in _UNSPACED


def _mixed_scripts(word: str, kinds: list[str]) -> int:
    """Letters of a word that are not in its main script."""
    counts: dict[str, int] = {}
    for kind in kinds:
        if _is_letter(kind):
            counts[kind] = counts.get(kind, 0) + 1
    if len(counts) < 2:
        return 0
    if len(counts) == 2 and "LATIN" in counts and counts.keys() - {"LATIN"} <= _UNSPACED:
        # Latin words inside CJK text are normal ("PDFを開く"); one or two CJK characters
        # inside a Latin word are a Latin letter and its neighbour read as a double-byte one.
        return _lone_runs_in_latin(word, kinds)
    return sum(counts.values()) - max(counts.values())


def _lone_runs_in_latin(word: str, kinds: list[str]) -> int:
    doubt = 0
    for match in re.finditer(r"(?<=[A-Za-z])[^\x00-\x7f]{1,2}(?=[A-Za-z])", word):
        if all(kinds[i] in _UNSPACED for i in range(match.start(), match.end())):
            doubt += match.end() - match.start()
    return doubt
