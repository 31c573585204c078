"""What the sync and async clients share: request shapes, answers to models, problems to
errors, WebSocket messages to events. No I/O here, so both clients say the same things."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import httpx

from docstream.client.config import ClientConfig
from docstream.client.errors import ApiError, DocumentCancelledError, DocumentFailedError
from services.ingest.read_schemas import DocumentView
from services.ingest.schemas import UploadAccepted
from shared.events import (
    EVENT_ADAPTER,
    TERMINAL_STATUSES_READ_MODEL,
    TERMINAL_TYPES,
    DocumentCancelled,
    DocumentFailed,
    Event,
)

FileInput = str | Path | bytes

#: Close codes of the gateway (see README, WebSocket): a credential refused, no such document,
#: the connection's lifetime reached or the store unavailable (reconnect).
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
RECONNECT_CODES = frozenset({4000, 1013, 1006, 1012})


def upload_form(
    file: FileInput, filename: str | None, options: dict[str, Any]
) -> tuple[dict[str, tuple[str, bytes | IO[bytes]]], dict[str, str]]:
    """The multipart ``file`` part and form fields; a path is streamed, not read whole."""
    content: bytes | IO[bytes]
    if isinstance(file, bytes):
        content, name = file, filename or "upload.bin"
    else:
        path = Path(file)
        content, name = path.open("rb"), filename or path.name
    fields = {k: _form_value(v) for k, v in options.items() if v is not None}
    return {"file": (name, content)}, fields


def _form_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def headers_for(idempotency_key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": idempotency_key} if idempotency_key else {}


def checked(response: httpx.Response) -> httpx.Response:
    """The response, or :class:`ApiError` with the problem's reason."""
    if response.status_code < 400:
        return response
    try:
        problem = response.json()
    except json.JSONDecodeError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    raise ApiError(
        response.status_code,
        str(problem.get("reason", "http_error")),
        str(problem.get("detail", response.reason_phrase)),
        problem,
    )


def event_of(raw: str | bytes) -> Event | None:
    """The event a gateway message carries (None for a snapshot)."""
    message = json.loads(raw)
    if message.get("type") != "event":
        return None
    return EVENT_ADAPTER.validate_python(message["event"])


def closed_error(document_id: str, code: int | None, reason: str) -> ApiError | None:
    """A close that ends the watch with an error; None for a normal or a reconnect close."""
    if code == CLOSE_NOT_FOUND:
        return ApiError(404, "not_found", "no such document", {"reason": "not_found"})
    if code == CLOSE_UNAUTHORIZED:
        return ApiError(401, reason or "bad_credentials", "credential refused", {"reason": reason})
    return None


def is_terminal(event: Event) -> bool:
    return event.type in TERMINAL_TYPES


def raise_for_event(event: Event) -> None:
    """A terminal event that is not a completion, as the error :meth:`wait` raises."""
    if isinstance(event, DocumentFailed):
        data = event.data
        raise DocumentFailedError(event.subject, data.reason.value, data.message, data.stage)
    if isinstance(event, DocumentCancelled):
        raise DocumentCancelledError(event.subject)


def finished(doc: DocumentView, generation: int) -> bool:
    return doc.status in TERMINAL_STATUSES_READ_MODEL and _generation(doc) >= generation


def outcome(doc: DocumentView) -> DocumentView:
    """A finished document, or the error that says why it did not complete."""
    if doc.status == "failed":
        error = dict(getattr(doc, "error", None) or {})
        raise DocumentFailedError(
            doc.id,
            str(error.get("reason", "unknown")),
            str(error.get("message", "")),
            error.get("stage"),
        )
    if doc.status == "cancelled":
        raise DocumentCancelledError(doc.id)
    return doc


def _generation(doc: DocumentView) -> int:
    return int(getattr(doc, "generation", 1) or 1)


def target(
    config: ClientConfig, document: str | UploadAccepted, generation: int | None
) -> tuple[str, str]:
    if isinstance(document, str):
        return document, config.watch_url(document, generation)
    url = document.ws_url
    if generation is not None:
        url += f"{'&' if '?' in url else '?'}generation={generation}"
    return document.id, url


def close_files(files: dict[str, tuple[str, Any]]) -> None:
    for _, content in files.values():
        if hasattr(content, "close"):
            content.close()
