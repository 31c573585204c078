"""One page of extracted text (kept apart from result.py so the worker needs no pydantic)."""

from __future__ import annotations

from dataclasses import dataclass

PAGE_SEPARATOR = "\n\n"


@dataclass
class PageText:
    number: int  # 1-based
    text: str
    empty: bool  # no text layer (e.g. a scanned page): reported, not a failure
