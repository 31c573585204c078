"""The gateway application: one broadcast consumer of documents.events, many clients.

Routes: ``/ws/documents/{id}`` and ``/ws/documents`` (WebSocket), their SSE twins
``/v1/documents/{id}/stream`` and ``/v1/stream``. Every instance reads all of
documents.events, and cursors are Kafka positions: any instance serves any client.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway import sse, websocket
from services.gateway.access import Admission
from services.gateway.backfill import Backfill
from services.gateway.commands import Commands
from services.gateway.cursor import Cursor
from services.gateway.deps import FeedDeps
from services.gateway.document_feed import document_feed
from services.gateway.feed import Closing
from services.gateway.hub import Hub
from services.gateway.settings import GatewaySettings
from services.gateway.user_feed import user_feed
from services.gateway.websocket import Feed, FeedOpener
from shared import heap, mongo, problems
from shared.broadcast import BroadcastConsumer
from shared.gateway_protocol import CloseCode
from shared.kafka import EventProducer, ensure_topics
from shared.readmodel import FollowedDatabase, follow


def create_app(settings: GatewaySettings) -> FastAPI:
    hub = Hub(settings.recent_documents)
    admission = Admission(settings)
    stuck = websocket.StuckSends(settings.send_timeout_s)
    backfill = Backfill(
        settings.kafka_bootstrap_servers,
        settings.topics.events,
        readers=settings.backfill_readers,
        stall_s=settings.backfill_stall_s,
    )
    producer = EventProducer(settings.kafka_bootstrap_servers, client_id="docstream-gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(
            settings.kafka_bootstrap_servers, settings.topics, partitions=settings.topic_partitions
        )
        consumer = BroadcastConsumer(
            settings.kafka_bootstrap_servers, settings.topics.events, hub.on_record, traced=False
        )
        await consumer.start()
        hub.start_at(consumer.start_offsets)
        app.state.consumer = consumer
        await producer.start()
        client = mongo.connect(settings.mongo_url, app_name="docstream-gateway")
        followed = FollowedDatabase(client, settings.mongo_database)
        await followed.refresh()
        app.state.db = followed.db

        def switched(db: Any) -> None:
            app.state.db = db  # new streams read the rebuilt read model

        follower = asyncio.create_task(follow(followed, switched))
        sweeper = asyncio.create_task(stuck.run(), name="stuck-sends")
        # Before the first client: full collections must not stall the fan-out (shared/heap).
        heap.settle()
        try:
            yield
        finally:
            follower.cancel()
            sweeper.cancel()
            await consumer.stop()
            await backfill.close()
            await producer.stop()
            await client.close()

    app = FastAPI(title="docstream gateway", version="0.2.0", lifespan=lifespan)
    # An unknown path or a wrong method answers like ingest's errors (the stream routes'
    # refusals carry their close code besides the reason: see sse.py).
    app.add_exception_handler(StarletteHTTPException, problems.http_error_handler)
    app.state.settings = settings
    deps = FeedDeps(hub, backfill, lambda: app.state.db, settings)
    commands = Commands(producer, settings.topics, lambda: app.state.db)

    def one_document(document_id: str, generation: str | None) -> FeedOpener:
        min_generation = _generation(generation)
        if min_generation is None:
            return _refuse(CloseCode.BAD_REQUEST, "bad_generation")

        def open_feed(owner: str, after: Cursor | None) -> Feed:
            return document_feed(
                deps, owner, document_id, after=after, min_generation=min_generation
            )

        return open_feed

    def every_document(owner: str, after: Cursor | None) -> Feed:
        return user_feed(deps, owner, after=after)

    @app.websocket("/ws/documents/{document_id}")
    async def document_socket(ws: WebSocket, document_id: str) -> None:
        opener = one_document(document_id, ws.query_params.get("generation"))
        await websocket.serve(
            ws, settings, admission, commands, stuck, "document", document_id, opener
        )

    @app.websocket("/ws/documents")
    async def user_socket(ws: WebSocket) -> None:
        await websocket.serve(
            ws, settings, admission, commands, stuck, "user", None, every_document
        )

    @app.get("/v1/documents/{document_id}/stream", summary="One document's events (SSE)")
    async def document_events(request: Request, document_id: str) -> Response:
        opener = one_document(document_id, request.query_params.get("generation"))
        return await sse.stream(request, admission, "document", opener)

    @app.get("/v1/stream", summary="Every event of the caller's documents (SSE)")
    async def user_events(request: Request) -> Response:
        return await sse.stream(request, admission, "user", every_document)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        # A fan-out that stopped would leave every watcher waiting on a process that looks up.
        consumer = getattr(app.state, "consumer", None)
        if consumer is None or not consumer.running:
            return JSONResponse({"status": "fan-out stopped", "service": "gateway"}, 503)
        return JSONResponse({"status": "ok", "service": "gateway"})

    Instrumentator(excluded_handlers=["/metrics", "/healthz"]).instrument(app).expose(
        app, include_in_schema=False
    )
    if settings.cors_origins:
        app.add_middleware(StreamCors, origins=settings.cors_origins)
    return app


#: The HTTP routes a page on another origin may read: the SSE streams.
_STREAM_PATH = re.compile(r"/v1/stream|/v1/documents/[^/]+/stream")


class StreamCors:
    """CORS on the SSE routes only (see ``GatewaySettings.cors_origins`` for why it is safe):
    their answers, refusals included, carry ``Access-Control-Allow-Origin``, and a preflight
    (``fetch`` with an ``Authorization`` header, or an EventSource resuming with
    ``Last-Event-ID``) is answered. ``/healthz`` and ``/metrics`` stay same-origin: no page
    elsewhere has any business reading them through a visitor's browser."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET"],
            allow_headers=["Authorization", "X-API-Key", "Last-Event-ID", "Cache-Control"],
            allow_credentials=False,  # the credential is the token, never a cookie
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _STREAM_PATH.fullmatch(scope["path"]):
            await self._cors(scope, receive, send)
        else:
            await self._app(scope, receive, send)


#: ASCII digits only: int() would take " 7", "+7", "7_0" and other scripts' digits too.
_DIGITS = re.compile(r"[0-9]{1,9}")


def _generation(raw: str | None) -> int | None:
    """The generation a document stream waits for, 1 unless named (None: not a whole number
    from 1 on). After a reprocess the client names it; an earlier generation's terminal
    state must not end its watch."""
    if raw is None:
        return 1
    value = int(raw) if _DIGITS.fullmatch(raw) else 0
    return value if value >= 1 else None


def _refuse(code: CloseCode, reason: str) -> FeedOpener:
    """A feed that refuses the request once its credential has been checked (a stranger is
    told about the credential first): SSE answers the HTTP status, WebSocket the close."""

    async def refused(owner: str, after: Cursor | None) -> Feed:
        yield Closing(code, reason)

    return refused
