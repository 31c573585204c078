"""One WebSocket watching one document: snapshot, then live events, until a terminal one.

Protocol (JSON text frames):
- ``{"type": "snapshot", "document": {...} | null}``: the read model's current state;
- ``{"type": "event", "position": {"partition", "offset"}, "event": <CloudEvent>}``: each
  later event, in order, none twice;
- after a terminal event (document.completed / failed / cancelled) the server closes with 1000.
Close codes: 4401 no or bad credential, 4404 no such document (or someone else's),
4000 connection lifetime reached (reconnect).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pymongo.errors import PyMongoError

from services.gateway import metrics
from services.gateway.hub import Hub, LiveEvent, Subscription
from services.gateway.settings import GatewaySettings
from shared.auth import AuthError, credential_from_headers, verify_token
from shared.events import TERMINAL_STATUSES_READ_MODEL
from shared.ids import is_document_id
from shared.mongo import public_view
from shared.readmodel import DOCUMENTS

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_RECONNECT = 4000
CLOSE_TRY_AGAIN = 1013


class _Cursor:
    """What the client has seen: the newest position per partition (one, in practice)."""

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}

    def advance_to(self, position: dict[str, Any] | None) -> None:
        if position:
            p, o = int(position["partition"]), int(position["offset"])
            self.seen[p] = max(o, self.seen.get(p, -1))

    def is_new(self, item: LiveEvent) -> bool:
        return item.offset > self.seen.get(item.partition, -1)


async def watch_document(
    ws: WebSocket, document_id: str, hub: Hub, db: Any, settings: GatewaySettings
) -> None:
    owner = await _authenticate(ws, settings)
    if owner is None:
        return
    await ws.accept()
    metrics.CONNECTIONS.inc()
    sub = hub.subscribe(document_id, owner, settings.client_queue_size)
    outcome = "error"
    try:
        outcome = await _stream(ws, document_id, owner, hub, sub, db, settings)
    except WebSocketDisconnect:
        outcome = "client_closed"
    except PyMongoError:
        # The read model is restarting: tell the client to come back (1013: try again later)
        # rather than dropping the connection with an internal error.
        outcome = "store_unavailable"
        with contextlib.suppress(Exception):
            await ws.close(CLOSE_TRY_AGAIN, "store_unavailable")
    finally:
        hub.unsubscribe(sub)
        metrics.CONNECTIONS.dec()
        metrics.CONNECTIONS_TOTAL.labels(outcome).inc()


async def _authenticate(ws: WebSocket, settings: GatewaySettings) -> str | None:
    # Browsers cannot set headers on a WebSocket: accept ?token= as well.
    credential = credential_from_headers(
        ws.headers.get("authorization"), ws.headers.get("x-api-key")
    ) or ws.query_params.get("token")
    reason = "missing_credentials"
    if credential:
        try:
            return verify_token(settings.auth_secret.get_secret_value(), credential).owner
        except AuthError as exc:
            reason = exc.reason
    await ws.accept()
    await ws.send_json({"type": "error", "reason": reason})
    await ws.close(CLOSE_UNAUTHORIZED, reason)
    metrics.CONNECTIONS_TOTAL.labels("unauthorized").inc()
    return None


def _finished(doc: dict[str, Any], min_generation: int) -> bool:
    return (
        doc.get("status") in TERMINAL_STATUSES_READ_MODEL
        and int(doc.get("generation", 1)) >= min_generation
    )


async def _stream(
    ws: WebSocket,
    document_id: str,
    owner: str,
    hub: Hub,
    sub: Subscription,
    db: Any,
    settings: GatewaySettings,
) -> str:
    # After a reprocess the client names the generation it waits for; an earlier
    # generation's terminal state must not end its watch.
    min_generation = _int_param(ws.query_params.get("generation"), default=1)
    doc = await _snapshot(db, document_id) if is_document_id(document_id) else None
    if doc is None and is_document_id(document_id):
        doc_owner = await hub.wait_for_owner(document_id, settings.unknown_document_wait_s)
    else:
        doc_owner = doc["owner"] if doc else None
    if doc is not None and doc.get("deleted"):
        doc_owner = None  # a deleted document is as absent as a missing one
    if doc_owner != owner:  # someone else's documents are as absent as missing ones
        await ws.send_json({"type": "error", "reason": "not_found"})
        await ws.close(CLOSE_NOT_FOUND, "not_found")
        return "not_found"

    cursor = _Cursor()
    await ws.send_json({"type": "snapshot", "document": public_view(doc) if doc else None})
    metrics.MESSAGES.labels("snapshot").inc()
    if doc is not None:
        cursor.advance_to(doc.get("position"))
        if _finished(doc, min_generation):
            await ws.close(1000, "done")
            return "done"
    for item in hub.recent(document_id):
        if (
            cursor.is_new(item)
            and item.owner == owner
            and await _send(ws, item, cursor, min_generation)
        ):
            return "done"

    deadline = time.monotonic() + settings.max_connection_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            await ws.close(CLOSE_RECONNECT, "reconnect")
            return "lifetime"
        live = await sub.get(wait_s=min(settings.resync_after_s, remaining))
        if live is None:
            # Quiet for a while: if the read model moved past us, resend it (closes any gap).
            latest = await _snapshot(db, document_id)
            if latest is not None and _ahead(latest.get("position"), cursor):
                cursor.advance_to(latest.get("position"))
                await ws.send_json({"type": "snapshot", "document": public_view(latest)})
                metrics.MESSAGES.labels("snapshot").inc()
                if _finished(latest, min_generation):
                    await ws.close(1000, "done")
                    return "done"
            continue
        if cursor.is_new(live) and await _send(ws, live, cursor, min_generation):
            return "done"


async def _send(ws: WebSocket, item: LiveEvent, cursor: _Cursor, min_generation: int) -> bool:
    """Send one event; True when it ended the watch and the connection is closed."""
    await ws.send_json(item.message())
    metrics.MESSAGES.labels("event").inc()
    cursor.advance_to({"partition": item.partition, "offset": item.offset})
    if item.terminal and item.generation >= min_generation:
        await ws.close(1000, "done")
        return True
    return False


def _int_param(raw: str | None, *, default: int) -> int:
    try:
        return max(default, int(raw)) if raw else default
    except ValueError:
        return default


def _ahead(position: dict[str, Any] | None, cursor: _Cursor) -> bool:
    if not position:
        return False
    return int(position["offset"]) > cursor.seen.get(int(position["partition"]), -1)


async def _snapshot(db: Any, document_id: str) -> dict[str, Any] | None:
    doc = await db[DOCUMENTS].find_one({"_id": document_id})
    return dict(doc) if doc is not None else None
