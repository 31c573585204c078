"""CSV / TSV: rows and columns kept as a table, plus a readable text form for the page."""

from __future__ import annotations

import csv
import io
import re

from .collector import DocumentInfo, PageCollector
from .limits import ExtractionLimits

_DELIMITERS = (",", "\t", ";")
_SNIFF_ROWS = 50
# A field of at most two words is a value ("New York", "item 5"); three or more may be a clause.
_SHORT_FIELD_WORDS = 2
_HEADER_WORDS = 5
_HEADER_CHARS = 50
CELL_SEPARATOR = " | "


def sniff_delimiter(sample: str, *, truncated: bool) -> str | None:
    """The delimiter when ``sample`` reads as a table, else None.

    A table means: every row has the same number (>= 2) of fields, with at least three rows, or
    two rows of three or more fields (two lines of prose with one comma each are not a table);
    and the fields look like fields, not clauses of sentences (:func:`_fields_look_tabular`).
    """
    best: tuple[int, str] | None = None
    for delimiter in _DELIMITERS:
        if delimiter not in sample:
            continue
        rows = _head_rows(sample, delimiter, truncated=truncated)
        widths = {len(row) for row in rows}
        if len(widths) != 1:
            continue
        width = widths.pop()
        if width < 2 or len(rows) < 2 or (len(rows) == 2 and width < 3):
            continue
        if not _fields_look_tabular(rows, width, delimiter, sample):
            continue
        if best is None or width > best[0]:
            best = (width, delimiter)
    return None if best is None else best[1]


def _fields_look_tabular(rows: list[list[str]], width: int, delimiter: str, sample: str) -> bool:
    """Whether the fields are fields: lines of prose, a poem or log lines can have the same
    number of commas on every line ("2024-03-01 12:00:00,123 INFO worker started")."""
    quoted = re.escape(delimiter)
    if re.search(rf'(?:^|{quoted})"[^"\n]*{quoted}[^"\n]*"(?:{quoted}|\r?$)', sample, re.M):
        return True  # a quoted field holding the delimiter: written by a CSV writer
    header = _header_like(rows[0])
    body = rows[1:] if header else rows
    words = [len(field.split()) for row in body for field in row]
    short = all(count <= _SHORT_FIELD_WORDS for count in words)
    # Prose puts a space after its commas; a CSV writer does not.
    after = [field for row in body for field in row[1:]]
    if sum(1 for field in after if field[:1].isspace()) * 2 >= len(after):
        return short and width >= 3  # "a, b, c": a list of short items is still a table
    if short or header:
        return True
    # No header, and some fields run to several words: only many columns of mostly short
    # fields are a table (one comma a line is too easily a clause).
    wordy = sum(1 for count in words if count > _SHORT_FIELD_WORDS)
    return width >= 3 and wordy * 2 < len(words)


def _header_like(row: list[str]) -> bool:
    """Column names: short, none empty or starting with a digit (a date, a number)."""
    return all(
        field
        and field == field.strip()
        and not field[0].isdigit()
        and len(field) <= _HEADER_CHARS
        and len(field.split()) <= _HEADER_WORDS
        for field in row
    )


def _head_rows(sample: str, delimiter: str, *, truncated: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > _SNIFF_ROWS:
                break
    except csv.Error:
        lines = sample.count("\n") + (not sample.endswith("\n"))
        # A sample cut inside a quoted field fails on its last line ("unexpected end of data"):
        # that row is cut off, not malformed, and the rows before it are the judgement's.
        if not (truncated and reader.line_num >= lines):
            return []
    if truncated or len(rows) > _SNIFF_ROWS:
        rows = rows[:-1]  # the last row may be cut off by the sample's end
    return rows


def extract_csv(
    text: str, mime: str, delimiter: str, limits: ExtractionLimits, out: PageCollector
) -> DocumentInfo:
    # The worker is our own process: raise the per-field cap to the document's own limit.
    csv.field_size_limit(limits.max_chars)
    out.expect_pages(1)
    try:
        rows: list[list[str | None]] = [
            list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row
        ]
    except csv.Error as exc:
        # It looked like a table at the top but is not one throughout: still good text.
        out.add_page(text)
        return DocumentInfo(
            detected_type="text/plain",
            extractor="text",
            warnings=[f"read as plain text: not a consistent table further down ({exc})"],
        )
    readable = "\n".join(CELL_SEPARATOR.join(cell or "" for cell in row) for row in rows)
    out.add_page(readable, [rows] if rows else [])
    return DocumentInfo(detected_type=mime, extractor="csv")
