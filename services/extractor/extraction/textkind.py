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

# A whole HTML document: a doctype or its html, head or body element first (after comments).
# (A comment stops at its first "-->": a lazy ".*?" could stretch over text to a later one.)
_HTML_DOCUMENT = re.compile(
    r"(?:<!--(?:[^-]|-(?!->))*-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE
)
_XHTML = re.compile(r"<\?xml[^>]*>\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+)?html", re.I | re.S)
# The start-of-document patterns of the WHATWG MIME sniffing standard ("text/html"). A browser
# sniffing a download may go by them; a text file that starts with a tag is more often Markdown
# (a README's centred logo, a markdownlint comment) or a note, so they are only a hint here.
_HTML_START = re.compile(
    r"<(?:script|iframe|h1|div|font|table|a|style|title|b|br|p)[\s>]|<!--", re.IGNORECASE
)
# A line of markup: it starts with a tag or a comment, or ends with a tag.
_MARKUP_LINE = re.compile(r"\s*<[a-zA-Z/!]|.*<[a-zA-Z/][^<>]*>\s*$")
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
    if _HTML_DOCUMENT.match(head) or _XHTML.match(head):
        return TextKind(HTML)
    if _HTML_START.match(head) and not _is_markdown(sample) and _mostly_markup(sample):
        return TextKind(HTML)  # a fragment: markup through and through
    delimiter = sniff_delimiter(sample, truncated=len(text) > len(sample))
    if delimiter is not None:
        return TextKind(TSV if delimiter == "\t" else CSV, delimiter)
    return TextKind(MARKDOWN if _is_markdown(sample) else PLAIN)


def _is_markdown(sample: str) -> bool:
    signs = sum(1 for pattern in _MARKDOWN_SIGNS if pattern.search(sample))
    return signs >= _MARKDOWN_MIN_SIGNS


def _mostly_markup(sample: str) -> bool:
    """At least half the lines are markup: HTML making up the text, not a line of it."""
    lines = [line for line in sample.splitlines() if line.strip()]
    markup = sum(1 for line in lines if _MARKUP_LINE.match(line))
    return markup * 2 >= len(lines)
