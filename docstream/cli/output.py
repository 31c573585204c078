"""Human tables by default, JSON with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


class Output:
    def __init__(self, *, as_json: bool, stream: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout

    def rows(self, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
        if self.as_json:
            self.data(list(rows))
            return
        if not rows:
            print("(none)", file=self.stream)
            return
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        print(
            "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)),
            file=self.stream,
        )
        for row in cells:
            print(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(),
                file=self.stream,
            )

    def data(self, value: Any) -> None:
        print(json.dumps(value, indent=2, default=str), file=self.stream)

    def message(self, text: str, **fields: Any) -> None:
        if self.as_json:
            self.data({"message": text, **fields})
        else:
            print(text, file=self.stream)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
