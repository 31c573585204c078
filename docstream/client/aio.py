"""The asyncio client: the same calls as :class:`docstream.client.Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from types import TracebackType
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from docstream.client import protocol
from docstream.client.config import ClientConfig
from docstream.client.errors import ApiError, WaitTimeoutError
from services.ingest.read_schemas import DocumentPage, DocumentSummary, DocumentView
from services.ingest.schemas import CancelAccepted, UploadAccepted
from shared.events import Event


class AsyncClient:
    """``AsyncClient()`` reads ``DOCSTREAM_URL``, ``DOCSTREAM_TOKEN`` and ``DOCSTREAM_WS_URL``."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        ws_url: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.config = ClientConfig.resolve(url, token, ws_url, timeout_s)
        self._http = httpx.AsyncClient(
            base_url=self.config.url, headers=self.config.headers, timeout=timeout_s
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def upload(
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
        options = {
            "analyze": analyze,
            "duplicates": duplicates,
            "password": password,
            "language": language,
            "ocr_languages": ocr_languages,
        }
        files, fields = protocol.upload_form(file, filename, options)
        try:
            response = await self._http.post(
                "/v1/documents",
                files=files,
                data=fields,
                headers=protocol.headers_for(idempotency_key),
            )
        finally:
            protocol.close_files(files)
        return UploadAccepted.model_validate(protocol.checked(response).json())

    async def get(self, document_id: str) -> DocumentView:
        response = await self._http.get(f"/v1/documents/{document_id}")
        return DocumentView.model_validate(protocol.checked(response).json())

    async def list(
        self, *, page_size: int = 50, order: str = "newest", **filters: str
    ) -> AsyncIterator[DocumentSummary]:
        params: dict[str, Any] = {"limit": page_size, "order": order, **filters}
        while True:
            response = await self._http.get("/v1/documents", params=params)
            page = DocumentPage.model_validate(protocol.checked(response).json())
            for item in page.items:
                yield item
            if not page.next:
                return
            params["cursor"] = page.next

    async def text(self, document_id: str) -> str:
        response = await self._http.get(f"/v1/documents/{document_id}/text")
        return protocol.checked(response).text

    async def cancel(
        self, document_id: str, *, idempotency_key: str | None = None
    ) -> CancelAccepted:
        response = await self._http.post(
            f"/v1/documents/{document_id}/cancel", headers=protocol.headers_for(idempotency_key)
        )
        return CancelAccepted.model_validate(protocol.checked(response).json())

    async def watch(
        self, document: str | UploadAccepted, *, generation: int | None = None
    ) -> AsyncGenerator[Event, None]:
        """The document's events in order, until a terminal one (see ``Client.watch``)."""
        watch = protocol.Watch(
            *protocol.target(self.config, document, generation), generation, self.config.timeout_s
        )
        while True:
            async with await self._connect(watch) as ws:
                try:
                    async for raw in ws:
                        event, answer = watch.read(raw)
                        if answer is not None:
                            await ws.send(answer)
                        if event is not None:
                            yield event
                except ConnectionClosed:
                    pass
                code, reason = ws.close_code, ws.close_reason or ""
            pause = watch.reconnect_after(code, reason)
            if pause is None:
                return
            await asyncio.sleep(pause)

    async def _connect(self, watch: protocol.Watch) -> ClientConnection:
        """A connection to the gateway, opened within the client's timeout; see
        :meth:`protocol.Watch.retry_after` for when a failure is retried."""
        while True:
            try:
                ws = await connect(
                    watch.url,
                    additional_headers=self.config.headers,
                    open_timeout=self.config.timeout_s,
                )
            except (OSError, InvalidHandshake) as exc:
                await asyncio.sleep(watch.retry_after(exc))
                continue
            watch.connected()
            return ws

    async def wait(
        self, document: str | UploadAccepted, *, timeout_s: float = 600.0, generation: int = 1
    ) -> DocumentView:
        """The finished document, or the error that says why not (see ``Client.wait``)."""
        document_id = document if isinstance(document, str) else document.id
        deadline = time.monotonic() + timeout_s
        limit = asyncio.timeout(timeout_s)
        try:
            async with limit, aclosing(self.watch(document, generation=generation)) as events:
                async for event in events:
                    if protocol.is_terminal(event) and event.generation >= generation:
                        protocol.raise_for_event(event)
                        break
        except TimeoutError:
            # Only the wait's own limit is WaitTimeoutError; a connection that could not be
            # opened in time is UnreachableError, raised by the watch.
            if not limit.expired():
                raise
            raise WaitTimeoutError(document_id, timeout_s, None) from None
        while True:  # the read model may trail the terminal event by a moment
            doc = await self._folded(document_id, deadline)
            if doc is not None and protocol.finished(doc, generation):
                return protocol.outcome(doc)
            if time.monotonic() > deadline:
                raise WaitTimeoutError(document_id, timeout_s, doc.status if doc else None)
            await asyncio.sleep(0.1)

    async def _folded(self, document_id: str, deadline: float) -> DocumentView | None:
        """The document, or None while the read model has not folded it yet (a 404 right
        after the upload); a 404 that lasts past the deadline is the answer."""
        try:
            return await self.get(document_id)
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            return None
