"""Bytes to text for the text formats (plain, Markdown, HTML, CSV), in whatever encoding."""

from __future__ import annotations

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


def decode_text(data: bytes) -> str | None:
    """The text in ``data``, or None when it is not text in an encoding we can tell."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    has_nul = b"\x00" in data[:_SNIFF_BYTES]
    if not has_nul:
        try:
            # Most text is UTF-8, and a strict decode is the cheapest exact test for it.
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return text if looks_like_text(text[:_SNIFF_BYTES]) else None
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    # NUL bytes only occur in text encoded as UTF-16/32 (here without a BOM).
    if has_nul and not best.encoding.startswith(("utf_16", "utf_32")):
        return None
    text = data.decode(best.encoding, "replace")
    return text if looks_like_text(text[:_SNIFF_BYTES]) else None


def looks_like_text(sample: str) -> bool:
    if not sample:
        return True
    controls = sum(
        1 for ch in sample if ch not in _TEXT_CONTROLS and unicodedata.category(ch) == "Cc"
    )
    return controls / len(sample) <= _MAX_CONTROL_SHARE
