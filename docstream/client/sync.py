"""The blocking client: httpx for the API, websockets' sync client for the gateway."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import closing
from types import TracebackType
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from docstream.client import protocol
from docstream.client.config import ClientConfig
from docstream.client.errors import ApiError
from services.ingest.read_schemas import DocumentPage, DocumentSummary, DocumentView
from services.ingest.schemas import CancelAccepted, UploadAccepted
from shared.events import Event


class Client:
    """``Client()`` reads ``DOCSTREAM_URL``, ``DOCSTREAM_TOKEN`` and ``DOCSTREAM_WS_URL``."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        ws_url: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.config = ClientConfig.resolve(url, token, ws_url, timeout_s)
        self._http = httpx.Client(
            base_url=self.config.url, headers=self.config.headers, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def upload(
        self,
        file: protocol.FileInput,
        *,
        filename: str | None = None,
        idempotency_key: str | None = None,
        analyze: bool | None = None,
        duplicates: str | None = None,
        password: str | None = None,
        language: str | None = None,
        ocr_languages: str | None = None,
    ) -> UploadAccepted:
        """Upload one file (a path, streamed, or bytes); answers once it is queued."""
        options = {
            "analyze": analyze,
            "duplicates": duplicates,
            "password": password,
            "language": language,
            "ocr_languages": ocr_languages,
        }
        files, fields = protocol.upload_form(file, filename, options)
        try:
            response = self._http.post(
                "/v1/documents",
                files=files,
                data=fields,
                headers=protocol.headers_for(idempotency_key),
            )
        finally:
            protocol.close_files(files)
        return UploadAccepted.model_validate(protocol.checked(response).json())

    def get(self, document_id: str) -> DocumentView:
        response = self._http.get(f"/v1/documents/{document_id}")
        return DocumentView.model_validate(protocol.checked(response).json())

    def list(
        self, *, page_size: int = 50, order: str = "newest", **filters: str
    ) -> Iterator[DocumentSummary]:
        """Every document of yours (filters: ``status``, ``filename``, ``detected_type``,
        ``created_from``, ``created_to``), fetched a page at a time by following ``next``."""
        params: dict[str, Any] = {"limit": page_size, "order": order, **filters}
        while True:
            response = self._http.get("/v1/documents", params=params)
            page = DocumentPage.model_validate(protocol.checked(response).json())
            yield from page.items
            if not page.next:
                return
            params["cursor"] = page.next

    def text(self, document_id: str) -> str:
        return protocol.checked(self._http.get(f"/v1/documents/{document_id}/text")).text

    def cancel(self, document_id: str, *, idempotency_key: str | None = None) -> CancelAccepted:
        response = self._http.post(
            f"/v1/documents/{document_id}/cancel", headers=protocol.headers_for(idempotency_key)
        )
        return CancelAccepted.model_validate(protocol.checked(response).json())

    def watch(
        self, document: str | UploadAccepted, *, generation: int | None = None
    ) -> Iterator[Event]:
        """The document's events as they happen, in order, until a terminal one (none when
        it had finished already). Reconnects when the gateway asks to, skipping repeats."""
        yield from self._watch(document, generation, deadline=None)

    def wait(
        self, document: str | UploadAccepted, *, timeout_s: float = 600.0, generation: int = 1
    ) -> DocumentView:
        """The finished document; :class:`DocumentFailedError` (with the reason) when it
        failed, :class:`DocumentCancelledError`, or :class:`WaitTimeoutError` when
        ``timeout_s`` passed; :class:`UnreachableError` when the gateway cannot be reached."""
        document_id = document if isinstance(document, str) else document.id
        deadline = protocol.Deadline.after(timeout_s)
        with closing(self._watch(document, generation, deadline=deadline)) as events:
            for event in events:
                if protocol.is_terminal(event) and event.generation >= generation:
                    protocol.raise_for_event(event)
                    break
        # The read model may trail the terminal event by a moment.
        while True:
            doc = self._folded(document_id, deadline.at)
            if doc is not None and protocol.finished(doc, generation):
                return protocol.outcome(doc)
            if deadline.passed():
                raise deadline.error(document_id, doc.status if doc else None)
            time.sleep(0.1)

    def _watch(
        self,
        document: str | UploadAccepted,
        generation: int | None,
        *,
        deadline: protocol.Deadline | None,
    ) -> Generator[Event, None, None]:
        watch = protocol.Watch(
            *protocol.target(self.config, document, generation), generation, self.config.timeout_s
        )
        while True:
            with self._connect(watch, deadline) as ws:
                try:
                    while True:
                        try:
                            raw = ws.recv(timeout=None if deadline is None else deadline.left())
                        except TimeoutError:
                            # recv's only time limit is the wait's: a stalled connection is
                            # closed by websockets' keepalive pings, and then reconnected.
                            assert deadline is not None
                            raise deadline.error(watch.document_id) from None
                        event, answer = watch.read(raw)
                        if answer is not None:
                            ws.send(answer)
                        if event is not None:
                            yield event
                except ConnectionClosed:
                    pass
                code, reason = ws.close_code, ws.close_reason or ""
            pause = watch.reconnect_after(code, reason)
            if pause is None:
                return
            time.sleep(pause)

    def _connect(
        self, watch: protocol.Watch, deadline: protocol.Deadline | None
    ) -> ClientConnection:
        """A connection to the gateway, opened within the client's timeout (and the wait's
        deadline); see :meth:`protocol.Watch.retry_after` for when a failure is retried."""
        while True:
            open_timeout = self.config.timeout_s
            if deadline is not None:
                if deadline.passed():
                    raise deadline.error(watch.document_id)
                open_timeout = min(open_timeout, deadline.left())
            try:
                ws = connect(
                    watch.url, additional_headers=self.config.headers, open_timeout=open_timeout
                )
            except (OSError, InvalidHandshake) as exc:
                if deadline is not None and deadline.passed():
                    raise deadline.error(watch.document_id) from None
                pause = watch.retry_after(exc)
                time.sleep(pause if deadline is None else min(pause, deadline.left()))
                continue
            watch.connected()
            return ws

    def _folded(self, document_id: str, deadline: float) -> DocumentView | None:
        """The document, or None while the read model has not folded it yet (a 404 right
        after the upload); a 404 that lasts past the deadline is the answer."""
        try:
            return self.get(document_id)
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            return None
