"""CSV / TSV: rows and columns kept as a table, plus a readable text form for the page."""

from __future__ import annotations

import csv
import io

from .collector import DocumentInfo, PageCollector
from .limits import ExtractionLimits

_DELIMITERS = (",", "\t", ";")
_SNIFF_ROWS = 50
CELL_SEPARATOR = " | "


def sniff_delimiter(sample: str, *, truncated: bool) -> str | None:
    """The delimiter when ``sample`` reads as a table, else None.

    A table means: every row has the same number (>= 2) of fields, with at least three rows, or
    two rows of three or more fields (two lines of prose with one comma each are not a table).
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
        if best is None or width > best[0]:
            best = (width, delimiter)
    return None if best is None else best[1]


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
