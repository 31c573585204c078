"""One document's life as a patient real client lives it: upload (retrying a 503 after its
Retry-After, and a refused connection while ingest restarts), maybe cancel, and watch the
WebSocket until the terminal event, reconnecting whenever the gateway goes away."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from benchmarks.chaos.samples import Sample

TERMINAL_EVENT_STATUS = {
    "document.completed": "completed",
    "document.failed": "failed",
    "document.cancelled": "cancelled",
}


@dataclass
class Watch:
    connects: int = 0
    reconnects: int = 0
    not_found: int = 0
    #: "completed" / "failed" / "cancelled" as the watcher learnt it, and how (event/snapshot).
    terminal: str | None = None
    terminal_via: str | None = None
    events: int = 0
    gave_up: bool = False
    #: time.monotonic() of every snapshot received (the gateway answered a connection).
    snapshots: list[float] = field(default_factory=list)


@dataclass
class DocRun:
    n: int
    sample: Sample
    cancel: bool
    id: str | None = None
    ws_url: str | None = None
    status_code: int | None = None  # the final answer to the upload
    refused_reason: str | None = None
    attempts: int = 0
    answered_503: int = 0
    missing_retry_after: int = 0
    connection_errors: int = 0
    server_errors: list[int] = field(default_factory=list)
    accepted_at: float | None = None
    cancel_answer: int | None = None
    cancel_sent_at: float | None = None
    watch: Watch = field(default_factory=Watch)


@dataclass
class Timeline:
    """When the client side of the system answered (for ingest and gateway recovery)."""

    accepted: list[float] = field(default_factory=list)
    answered_503: list[float] = field(default_factory=list)


class Client:
    def __init__(self, api: str, token: str, timeline: Timeline) -> None:
        self.api = api
        self.token = token
        self.timeline = timeline
        self.headers = {"Authorization": f"Bearer {token}"}

    async def upload(self, http: httpx.AsyncClient, doc: DocRun, deadline: float) -> None:
        sample = doc.sample
        while time.monotonic() < deadline:
            doc.attempts += 1
            try:
                response = await http.post(
                    f"{self.api}/v1/documents",
                    headers=self.headers,
                    files={"file": (sample.filename, sample.data)},
                    data=sample.fields,
                )
            except httpx.TransportError:
                # ingest was killed (refused, reset, or no answer): try again shortly. If it
                # had published before dying, that upload is one the client never heard of.
                doc.connection_errors += 1
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 202:
                body = response.json()
                doc.id = body["id"]
                doc.ws_url = body["ws_url"]
                doc.status_code = 202
                doc.accepted_at = time.monotonic()
                self.timeline.accepted.append(doc.accepted_at)
                return
            if response.status_code == 503:
                doc.answered_503 += 1
                self.timeline.answered_503.append(time.monotonic())
                retry_after = response.headers.get("retry-after")
                if retry_after is None:
                    doc.missing_retry_after += 1
                await asyncio.sleep(float(retry_after or 5))
                continue
            if response.status_code >= 500:
                doc.server_errors.append(response.status_code)
                await asyncio.sleep(1.0)
                continue
            doc.status_code = response.status_code
            doc.refused_reason = _reason(response)
            return

    async def cancel(self, http: httpx.AsyncClient, doc: DocRun, rng: random.Random) -> None:
        """Cancel soon after the upload, as a user who changed their mind; retried while the
        read model has not seen the document yet (404) or a service is restarting."""
        await asyncio.sleep(rng.uniform(0.05, 0.6))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                response = await http.post(
                    f"{self.api}/v1/documents/{doc.id}/cancel", headers=self.headers
                )
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            if response.status_code in (404, 503) or response.status_code >= 500:
                await asyncio.sleep(0.3)
                continue
            doc.cancel_answer = response.status_code
            doc.cancel_sent_at = time.monotonic()
            return

    async def watch(self, doc: DocRun, deadline: float) -> None:
        """Until a terminal event (or a snapshot of a terminal state) and a 1000 close."""
        watch = doc.watch
        url = f"{doc.ws_url}?token={self.token}&generation=1"
        while time.monotonic() < deadline:
            code: int | None = None
            try:
                async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                    async with websockets.connect(url, open_timeout=5, close_timeout=2) as ws:
                        watch.connects += 1
                        try:
                            async for raw in ws:
                                _take(watch, json.loads(raw))
                        except websockets.ConnectionClosed:
                            pass
                        code = ws.close_code
            except (
                OSError,
                TimeoutError,
                websockets.InvalidHandshake,
                websockets.ConnectionClosed,
            ):
                code = None
            if code == 1000 and watch.terminal is not None:
                return
            if code == 4404:
                watch.not_found += 1
            watch.reconnects += 1
            await asyncio.sleep(0.3)
        watch.gave_up = True


def _take(watch: Watch, message: dict[str, Any]) -> None:
    if message.get("type") == "snapshot":
        watch.snapshots.append(time.monotonic())
        status = (message.get("document") or {}).get("status")
        if status in ("completed", "failed", "cancelled") and watch.terminal is None:
            watch.terminal, watch.terminal_via = status, "snapshot"
    elif message.get("type") == "event":
        watch.events += 1
        event_type = (message.get("event") or {}).get("type")
        if event_type in TERMINAL_EVENT_STATUS and watch.terminal is None:
            watch.terminal, watch.terminal_via = TERMINAL_EVENT_STATUS[event_type], "event"


def _reason(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        reason = error.get("reason") or error.get("code")
        return str(reason) if reason else None
    return None
