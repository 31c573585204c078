"""The gateway application: one broadcast consumer of documents.events, many WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from prometheus_fastapi_instrumentator import Instrumentator

from services.gateway.hub import Hub
from services.gateway.settings import GatewaySettings
from services.gateway.stream import watch_document
from shared import mongo
from shared.broadcast import BroadcastConsumer
from shared.kafka import ensure_topics
from shared.readmodel import FollowedDatabase, follow


def create_app(settings: GatewaySettings) -> FastAPI:
    hub = Hub(settings.recent_documents)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(
            settings.kafka_bootstrap_servers, settings.topics, partitions=settings.topic_partitions
        )
        consumer = BroadcastConsumer(
            settings.kafka_bootstrap_servers, settings.topics.events, hub.on_record
        )
        await consumer.start()
        app.state.consumer = consumer
        client = mongo.connect(settings.mongo_url, app_name="docstream-gateway")
        followed = FollowedDatabase(client, settings.mongo_database)
        await followed.refresh()
        app.state.db = followed.db

        def switched(db: Any) -> None:
            app.state.db = db  # new watches read the rebuilt read model

        follower = asyncio.create_task(follow(followed, switched))
        try:
            yield
        finally:
            follower.cancel()
            await consumer.stop()
            await client.close()

    app = FastAPI(title="docstream gateway", version="0.1.0", lifespan=lifespan)

    @app.websocket("/ws/documents/{document_id}")
    async def document_stream(ws: WebSocket, document_id: str) -> None:
        await watch_document(ws, document_id, hub, app.state.db, settings)

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
    return app
