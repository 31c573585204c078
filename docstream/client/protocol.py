"""What the sync and async clients share: request shapes, answers to models, problems to
errors, WebSocket messages to events. No I/O here, so both clients say the same things."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from docstream.client.config import ClientConfig
from docstream.client.errors import (
    ApiError,
    DocumentCancelledError,
    DocumentFailedError,
    UnreachableError,
    WaitTimeoutError,
)
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

#: Close codes of the gateway (see README, WebSocket). The document's end (or its having
#: finished already) closes with 1000.
CLOSE_DONE = 1000
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
#: The connection ended but the document's events go on: its lifetime reached, the store or
#: the gateway restarting (or failing on this connection), a dropped connection, a ping not
#: answered in time or a client too slow to keep up. A new connection resumes from the
#: cursor of the last message (see :class:`Watch`).
RECONNECT_CODES = frozenset({4000, 1011, 1013, 1006, 1012, 1001, 4008, 4408})
PING = "ping"
CLOSE_RECONNECT = 4000


def reconnect_delay_s(code: int | None) -> float:
    """How long to wait before reconnecting: at once when the connection's lifetime was
    reached, a moment when the gateway or its store is in trouble (not a tight loop)."""
    return 0.0 if code == CLOSE_RECONNECT else 0.5


PONG = '{"type":"pong"}'

#: Pauses between attempts to reconnect a watch whose gateway has gone away (restarting, or
#: replaced behind a load balancer); the last one repeats until the client's ``timeout_s``.
RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class Deadline:
    """A wait's own time limit. Only running out of it is :class:`WaitTimeoutError`: a
    connection that could not be opened in time is :class:`UnreachableError`."""

    timeout_s: float
    at: float

    @classmethod
    def after(cls, timeout_s: float) -> Deadline:
        return cls(timeout_s, time.monotonic() + timeout_s)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def error(self, document_id: str, status: str | None = None) -> WaitTimeoutError:
        return WaitTimeoutError(document_id, self.timeout_s, status)


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


class Watch:
    """What one watch keeps across its connections. ``url`` resumes from the cursor of the
    last message given (``?after=``): the gateway sends the events missed, then live ones, so
    nothing that happened while the client was away is lost (a fresh connection would send a
    snapshot instead, and only a finished document's close when it ended in the gap). Ids
    already given are skipped all the same, as the README promises.

    With no cursor yet (the first connection, or one that ended before any message had one)
    nothing has been given, so starting afresh loses nothing."""

    def __init__(self, document_id: str, url: str, generation: int | None, retry_s: float) -> None:
        self.document_id = document_id
        self._url = url
        self._generation = generation or 1
        self._retry_s = retry_s
        self.cursor: str | None = None
        self.seen: set[str] = set()
        self.ended = False
        self._connected = False
        self._failures = 0
        self._failing_since = 0.0

    @property
    def url(self) -> str:
        return self._url if self.cursor is None else with_query(self._url, after=self.cursor)

    def connected(self) -> None:
        self._connected = True
        self._failures = 0

    def retry_after(self, exc: Exception) -> float:
        """Seconds to wait before connecting again after ``exc`` (refused, not opened within
        the client's timeout, a handshake that failed); raises :class:`UnreachableError`
        when not to. The first connection is not retried: an address that refuses or never
        answers is reported at once, not after the wait's whole timeout. A reconnection is,
        for up to the client's ``timeout_s``: a gateway restarting is back within seconds."""
        now = time.monotonic()
        if self._failures == 0:
            self._failing_since = now
        if not self._connected or now - self._failing_since >= self._retry_s:
            where = urlsplit(self._url)
            raise UnreachableError(
                f"{where.scheme}://{where.netloc}{where.path}", str(exc) or type(exc).__name__
            ) from exc
        delay = RETRY_DELAYS_S[min(self._failures, len(RETRY_DELAYS_S) - 1)]
        self._failures += 1
        return min(delay, max(0.0, self._failing_since + self._retry_s - now))

    def read(self, raw: str | bytes) -> tuple[Event | None, str | None]:
        """The event a gateway message carries (None for a snapshot, a ping or a repeat),
        and what to answer it (the gateway's ping wants any reply within its interval, or
        it closes 4408)."""
        message = json.loads(raw)
        kind = message.get("type")
        if kind == PING:
            return None, PONG
        cursor = message.get("cursor")
        if isinstance(cursor, str) and cursor:
            self.cursor = cursor
        if kind != "event":
            return None, None
        event: Event = EVENT_ADAPTER.validate_python(message["event"])
        if event.id in self.seen:
            return None, None
        self.seen.add(event.id)
        if is_terminal(event) and event.generation >= self._generation:
            self.ended = True
        return event, None

    def reconnect_after(self, code: int | None, reason: str) -> float | None:
        """Seconds to wait before the next connection, or None when the watch is over;
        raises the error a close means (see :func:`closed_error`)."""
        error = closed_error(self.document_id, code, reason)
        if error is not None:
            raise error
        if code in RECONNECT_CODES:
            return reconnect_delay_s(code)
        if self.seen and not self.ended:
            # The gateway closes 1000 after the terminal event (or at once, with no events,
            # for a document that had finished already, or when a resumed client had had
            # it): never after some events and not the end. Were it to, ending quietly would
            # make the document look finished.
            raise ApiError(
                502,
                "ended_early",
                f"the gateway ended the watch of {self.document_id} before its terminal event",
                {"reason": "ended_early", "close_code": code},
            )
        return None


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query (replacing any of the same name)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


def closed_error(document_id: str, code: int | None, reason: str) -> ApiError | None:
    """A close that ends the watch with an error; None for the document's end or a close
    after which the watch reconnects. Any other close is an error, never a quiet end: a
    watch that stopped before the document's terminal event would look finished."""
    if code == CLOSE_DONE or code in RECONNECT_CODES:
        return None
    if code == CLOSE_NOT_FOUND:
        return ApiError(404, "not_found", "no such document", {"reason": "not_found"})
    if code == CLOSE_UNAUTHORIZED:
        return ApiError(401, reason or "bad_credentials", "credential refused", {"reason": reason})
    # 4xxx mirrors an HTTP status (4429: too many connections of this user, 4503: gateway full).
    status = code - 4000 if code is not None and 4100 <= code < 4600 else 502
    why = reason or f"closed_{code}"
    return ApiError(
        status,
        why,
        f"the gateway closed the watch of {document_id} ({code})",
        {"reason": why, "close_code": code},
    )


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
