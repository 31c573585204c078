"""Tables of PDF pages with pdfplumber, bounded by a time budget.

pdfplumber parses each page's layout in pure Python: about 100 ms a page against ~3 ms for
pdfium's text (measured on the corpus). Tables are a bonus on top of the text, so once their
budget is spent the remaining pages get no table search, and the result says so, instead of
the whole document running into the timeout.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pdfplumber

from .collector import Rows

logger = logging.getLogger(__name__)


class TableFinder:
    """Opens the file with pdfplumber on first use; problems become ``warnings``, not errors."""

    def __init__(
        self, path: Path, password: str | None, budget_s: float, warnings: list[str]
    ) -> None:
        self._path = path
        self._password = password
        self._budget_s = budget_s
        self._warnings = warnings
        self._spent_s = 0.0
        self._pdf: Any = None
        self._done = False  # closed, failed to open, or out of budget
        self._first: int | None = None  # the first page searched: 0 unless a split PDF's part

    def find(self, index: int) -> list[Rows]:
        """Tables of the 0-based page ``index`` (``[]`` once the finder has stopped)."""
        if self._done:
            return []
        if self._first is None:
            self._first = index
        if self._spent_s >= self._budget_s:
            if self._first == 0:
                searched = f"tables searched on pages 1-{index} only"
            else:  # one worker's share of a split PDF: its pages need not be contiguous
                searched = f"tables not searched on this worker's pages from page {index + 1} on"
            self._stop(f"{searched}: the {self._budget_s:g} s table budget was spent")
            return []
        started = time.perf_counter()
        page = None
        try:
            if self._pdf is None:
                self._pdf = pdfplumber.open(self._path, password=self._password or "")
            page = self._pdf.pages[index]
            return [table.extract() for table in page.find_tables()]
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - pdfminer fails in many ways on odd files
            if self._pdf is None:
                self._stop(f"tables skipped: pdfplumber cannot open the file ({exc})")
            else:  # one odd page must not cost the others their tables
                logger.warning("table search failed on page %d: %s", index + 1, exc)
            return []
        finally:
            if page is not None:
                page.close()  # drops pdfplumber's per-page object cache
            self._spent_s += time.perf_counter() - started

    def close(self) -> None:
        self._done = True
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None

    def _stop(self, warning: str) -> None:
        self._warnings.append(warning)
        self.close()
