"""The fold of lifecycle events into one read-model document: pure, idempotent, monotonic.

Rules (what must hold under redelivery and reordering):
- an event at or before the stored position (same partition) was folded already: skipped;
- an older generation is ignored; a newer one starts the document's processing state afresh;
- status only moves forward, progress never goes back within a generation;
- the first terminal state of a generation sticks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.events import (
    AnalysisCompleted,
    DocumentAccepted,
    DocumentFailed,
    DocumentRedriven,
    Event,
    ExtractionCompleted,
    ExtractionProgressed,
)

Doc = dict[str, Any]

#: What each lifecycle type moves the status to (None: the status stays, e.g. a re-drive).
STATUS_OF_TYPE: dict[str, str | None] = {
    "document.accepted": "queued",
    "extraction.started": "extracting",
    "extraction.progressed": "extracting",
    "extraction.completed": "extracted",
    "analysis.started": "analyzing",
    "analysis.completed": "analyzed",
    "document.completed": "completed",
    "document.failed": "failed",
    "document.cancelled": "cancelled",
    "document.redriven": None,
    "document.deleted": None,
}
TERMINAL = {"completed", "failed", "cancelled"}
_RANK = {"queued": 0, "extracting": 1, "extracted": 2, "analyzing": 3, "analyzed": 4}
_PER_GENERATION = (
    "progress",
    "extraction",
    "text_blob",
    "analysis",
    "error",
    "finished_at",
    "redrives",
    "last_redrive",
)


@dataclass(frozen=True)
class Position:
    partition: int
    offset: int


def _rank(status: str) -> int:
    return 9 if status in TERMINAL else _RANK.get(status, -1)


def fold(doc: Doc | None, event: Event, position: Position) -> Doc | None:
    """The document after ``event``; None when the event changes nothing (already folded)."""
    if event.type not in STATUS_OF_TYPE:  # work records and commands are not lifecycle facts
        return None
    status = STATUS_OF_TYPE[event.type]
    if doc is not None:
        stored = doc.get("position") or {}
        if stored.get("partition") == position.partition and position.offset <= stored.get(
            "offset", -1
        ):
            return None
        if doc.get("deleted"):
            return None  # a deleted document stays a tombstone, whatever arrives late
        if event.generation < doc.get("generation", 1) and event.type != "document.deleted":
            return None
    # A shallow copy: the fold only ever sets top-level keys of ``new`` (nested values are
    # replaced, never changed in place; the log is a new list), so ``doc`` stays as it was.
    # A deep copy per event was a fifth of the status service's CPU.
    new: Doc = (
        dict(doc)
        if doc is not None
        else {
            "_id": event.subject,
            "owner": event.owner,
            "generation": event.generation,
            "status": "queued",
            "created_at": event.time,
        }
    )
    if event.generation > new.get("generation", 1):
        new["generation"] = event.generation
        new["status"] = "queued"
        for key in _PER_GENERATION:
            new.pop(key, None)

    if event.type == "document.deleted":
        return _tombstone(new, event, position)
    new["position"] = {"partition": position.partition, "offset": position.offset}
    new["updated_at"] = event.time
    new["last_event_id"] = event.id
    new["events_folded"] = int(new.get("events_folded", 0)) + 1

    _log(new, event, position)
    current = str(new.get("status", "queued"))
    if current in TERMINAL:
        return new  # sticky: only the position moves
    if status is not None and _rank(status) >= _rank(current):
        new["status"] = status
    if status in TERMINAL:
        new["finished_at"] = event.time
    _apply_data(new, event)
    return new


def _apply_data(new: Doc, event: Event) -> None:
    if isinstance(event, DocumentAccepted):
        new.update(
            filename=event.data.filename,
            content_type=event.data.content_type,
            size=event.data.size,
            sha256=event.data.sha256,
            created_at=event.time,
        )
        if event.data.options is not None:
            new["options"] = event.data.options.model_dump(
                exclude_none=True, exclude={"password", "password_sealed"}
            )
            new["password_given"] = event.data.password_given
        if event.data.duplicate_of is not None:
            new["duplicate_of"] = event.data.duplicate_of
    elif isinstance(event, DocumentRedriven):
        new["redrives"] = max(int(new.get("redrives", 0)), event.data.attempt - 1)
        new["last_redrive"] = {
            "stage": event.data.stage,
            "attempt": event.data.attempt,
            "stalled_s": event.data.stalled_s,
            "at": event.time,
        }
    elif isinstance(event, ExtractionProgressed):
        old = new.get("progress") or {}
        same_stage = old.get("stage") == event.data.stage
        if not same_stage or event.data.done >= int(old.get("done", 0)):
            new["progress"] = event.data.model_dump(exclude_none=True)
    elif isinstance(event, ExtractionCompleted):
        meta = event.data.metadata
        new["extraction"] = meta.model_dump(exclude_none=True)
        new["progress"] = {
            "stage": "extraction",
            "done": meta.pages,
            "total": meta.pages,
            "unit": "page",
        }
        if event.data.text_blob is not None:
            new["text_blob"] = event.data.text_blob.model_dump(exclude_none=True)
    elif isinstance(event, AnalysisCompleted):
        new["analysis"] = event.data.analysis.model_dump(exclude_none=True)
    elif isinstance(event, DocumentFailed):
        new["error"] = event.data.model_dump(exclude_none=True)


#: Log entries kept per document; beyond it, the oldest progress entries make room.
LOG_MAX = 500


def _log(new: Doc, event: Event, position: Position) -> None:
    """The processing log (``GET /v1/documents/{id}/log``) rides in the document: written
    with it, so it is exactly as complete as the state it explains."""
    entry: Doc = {
        "type": event.type,
        "time": event.time,
        "generation": event.generation,
        "source": event.source,
        "position": {"partition": position.partition, "offset": position.offset},
    }
    detail = _detail(event)
    if detail:
        entry["detail"] = detail
    log = list(new.get("_log") or [])
    log.append(entry)
    if len(log) > LOG_MAX:
        progress = next((i for i, e in enumerate(log) if e["type"].endswith(".progressed")), 0)
        del log[progress]
    new["_log"] = log


def _detail(event: Event) -> Doc:
    if isinstance(event, ExtractionProgressed):
        return {"done": event.data.done, "total": event.data.total}
    if isinstance(event, DocumentFailed):
        return {"stage": event.data.stage, "reason": event.data.reason.value}
    if isinstance(event, ExtractionCompleted):
        return {"pages": event.data.metadata.pages, "chars": event.data.metadata.chars}
    if isinstance(event, DocumentRedriven):
        return {"stage": event.data.stage, "attempt": event.data.attempt}
    return {}


#: What a deleted document keeps: enough to answer 404 for ever and to find its summary.
_TOMBSTONE_KEEPS = ("_id", "owner", "generation", "created_at", "_listing")


def _tombstone(new: Doc, event: Event, position: Position) -> Doc:
    kept = {k: new[k] for k in _TOMBSTONE_KEEPS if k in new}
    return {
        **kept,
        "status": new.get("status"),
        "deleted": True,
        "deleted_at": event.time,
        "updated_at": event.time,
        "last_event_id": event.id,
        "position": {"partition": position.partition, "offset": position.offset},
    }
