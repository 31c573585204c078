"""Which text format a decoded document is: HTML, CSV, Markdown or plain text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .csv_table import sniff_delimiter

HTML = "text/html"
CSV = "text/csv"
TSV = "text/tab-separated-values"
MARKDOWN = "text/markdown"
PLAIN = "text/plain"

# The start-of-document patterns of the WHATWG MIME sniffing standard ("text/html").
_HTML_START = re.compile(
    r"<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)"
    r"[\s>]|<!--",
    re.IGNORECASE,
)
_XHTML = re.compile(r"<\?xml[^>]*>\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+)?html", re.I | re.S)
_SNIFF_CHARS = 64 * 1024

_MARKDOWN_SIGNS = (
    re.compile(r"^#{1,6} \S", re.M),  # ATX heading
    re.compile(r"^```", re.M),  # fenced code
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),  # link
    re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__"),  # strong emphasis
    re.compile(r"^\s{0,3}(?:[-*+]|\d+\.) \S", re.M),  # list item
    re.compile(r"^\|.*\|\s*$\n^\|\s*:?-{3,}", re.M),  # table with its delimiter row
    re.compile(r"^> \S", re.M),  # block quote
)
# A list or a quote alone is common in plain notes; it takes two kinds of signs to call it
# Markdown.
_MARKDOWN_MIN_SIGNS = 2


@dataclass(frozen=True)
class TextKind:
    mime: str
    delimiter: str | None = None  # for CSV / TSV


def classify_text(text: str) -> TextKind:
    sample = text[:_SNIFF_CHARS]
    head = sample.lstrip()
    if _HTML_START.match(head) or _XHTML.match(head):
        return TextKind(HTML)
    delimiter = sniff_delimiter(sample, truncated=len(text) > len(sample))
    if delimiter is not None:
        return TextKind(TSV if delimiter == "\t" else CSV, delimiter)
    signs = sum(1 for pattern in _MARKDOWN_SIGNS if pattern.search(sample))
    if signs >= _MARKDOWN_MIN_SIGNS:
        return TextKind(MARKDOWN)
    return TextKind(PLAIN)
