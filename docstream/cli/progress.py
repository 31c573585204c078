"""Live progress of documents on stderr (stdout stays for ids and results, for scripts).

A bar per document (rich) on a terminal; elsewhere (a pipe, a CI log) one plain line each
time a document's stage changes, since redrawn bars would only fill a log with escapes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

from shared.events import (
    AnalysisCompleted,
    AnalysisStarted,
    DocumentAccepted,
    DocumentCancelled,
    DocumentCompleted,
    DocumentFailed,
    Event,
    ExtractionCompleted,
    ExtractionProgressed,
    ExtractionStarted,
)


def step(event: Event) -> tuple[float | None, str] | None:
    """Percent done (None: unchanged) and the stage's words, as the web page shows them:
    extraction's pages move the bar to 80%, analysis to 95%, completion to 100%."""
    if isinstance(event, DocumentAccepted):
        return 0.0, "queued"
    if isinstance(event, ExtractionStarted):
        return 5.0, "extracting"
    if isinstance(event, ExtractionProgressed):
        done, total = event.data.done, event.data.total
        if not total:
            return None, f"extracting: {done} {event.data.unit}s"
        return 5 + 75 * done / total, f"extracting {event.data.unit} {done} of {total}"
    if isinstance(event, ExtractionCompleted):
        return 80.0, "extracted"
    if isinstance(event, AnalysisStarted):
        return 85.0, "analyzing"
    if isinstance(event, AnalysisCompleted):
        return 95.0, "analyzed"
    if isinstance(event, DocumentCompleted):
        return 100.0, "completed"
    if isinstance(event, DocumentFailed):
        return None, f"failed: {event.data.reason.value}"
    if isinstance(event, DocumentCancelled):
        return None, "cancelled"
    return None


class Tracker(Protocol):
    def update(self, event: Event) -> None: ...


class _Bar:
    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress, self._task = progress, task

    def update(self, event: Event) -> None:
        moved = step(event)
        if moved is None:
            return
        percent, stage = moved
        if percent is None:
            self._progress.update(self._task, stage=stage)
        else:
            self._progress.update(self._task, completed=percent, stage=stage)


class _Lines:
    def __init__(self, label: str, stream: TextIO) -> None:
        self._label, self._stream, self._last = label, stream, ""

    def update(self, event: Event) -> None:
        moved = step(event)
        if moved is None or moved[1] == self._last:
            return
        self._last = moved[1]
        print(f"{self._label}: {moved[1]}", file=self._stream, flush=True)


class Display:
    """``with Display.open() as display: tracker = display.track("report.pdf 0190...")``."""

    def __init__(self, progress: Progress | None, stream: TextIO) -> None:
        self._progress, self._stream = progress, stream

    @classmethod
    @contextmanager
    def open(cls, stream: TextIO | None = None) -> Iterator[Display]:
        stream = stream or sys.stderr
        if not stream.isatty():
            yield cls(None, stream)
            return
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[stage]}"),
            console=Console(file=stream),
        )
        with progress:
            yield cls(progress, stream)

    def track(self, label: str) -> Tracker:
        if self._progress is None:
            return _Lines(label, self._stream)
        return _Bar(self._progress, self._progress.add_task(label, total=100, stage="waiting"))
