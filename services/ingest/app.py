"""The ingest FastAPI application and its lifespan (producer, MongoDB client, blob store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.ingest import deletion, queries, uploads, web, webhooks
from services.ingest.admissions import Admissions, ClaimPruner
from services.ingest.errors import (
    ApiError,
    Problem,
    api_error_handler,
    http_error_handler,
    read_model_unavailable_handler,
    validation_error_handler,
)
from services.ingest.head import HeadAsGet
from services.ingest.publishing import Publisher
from services.ingest.routes import router
from services.ingest.schemas import upload_request_body
from services.ingest.settings import IngestSettings
from shared import heap, mongo, periodic
from shared.blobs import open_blob_store
from shared.kafka import EventProducer, ensure_topics
from shared.readmodel import FollowedDatabase, ReadModel, follow


def create_app(settings: IngestSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(
            settings.kafka_bootstrap_servers, settings.topics, partitions=settings.topic_partitions
        )
        producer = EventProducer(settings.kafka_bootstrap_servers, client_id="docstream-ingest")
        await producer.start()
        client = mongo.connect(settings.mongo_url, app_name="docstream-ingest")
        app.state.producer = producer
        app.state.publisher = Publisher(
            producer, settings.topics, app.state.blobs, timeout_s=settings.publish_timeout_s
        )
        # The base database holds what is not derived from events (admissions); the read
        # model's database follows the pointer a rebuild moves.
        app.state.db = client[settings.mongo_database]
        # The one collection ingest writes (see admissions.py for why).
        app.state.admissions = Admissions(
            app.state.db,
            key_ttl_s=settings.idempotency_ttl_s,
            wait_s=settings.idempotency_wait_s,
        )
        pruner = ClaimPruner(app.state.db, key_ttl_s=settings.idempotency_ttl_s)

        async def prune() -> None:
            await pruner.run()

        followed = FollowedDatabase(client, settings.mongo_database)
        await followed.refresh()
        app.state.read_model = ReadModel(
            followed.db, partitions=await producer.partitions(settings.topics.events)
        )
        read_model = app.state.read_model

        def switched(db: Any) -> None:
            read_model.db = db

        follower = asyncio.create_task(follow(followed, switched))
        heap.settle()  # fewer, shorter collections (shared/heap)
        # Not at once: a restarted replica starts serving first (the hour's slot makes it a
        # no-op when a replica ran it this hour already).
        timers = [
            periodic.every(
                settings.idempotency_prune_every_s, prune, name="idempotency", first_after_s=60
            )
        ]
        try:
            yield
        finally:
            follower.cancel()
            await periodic.cancel(timers)
            await app.state.publisher.close()
            await producer.stop()
            await client.close()

    app = FastAPI(
        title="docstream",
        summary="Upload documents; watch them being processed live.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.blobs = open_blob_store(settings)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(PyMongoError, read_model_unavailable_handler)
    app.include_router(uploads.router)
    app.include_router(router)
    app.include_router(queries.router)
    app.include_router(deletion.router)
    app.include_router(webhooks.router)
    web.mount(app)  # after the API: /web/config.json must not be taken by the static files
    app.add_middleware(HeadAsGet, routes=lambda: app.routes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "ingest"}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            # The upload's body says how many files this deployment takes.
            upload = schema["paths"]["/v1/documents"]["post"]
            upload["requestBody"] = upload_request_body(settings.max_files_per_upload)
            schema["components"]["schemas"]["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    Instrumentator(excluded_handlers=["/metrics", "/healthz"]).instrument(app).expose(
        app, include_in_schema=False
    )
    # The request span is the root of the document's trace (or joins a client's traceparent).
    FastAPIInstrumentor.instrument_app(app, excluded_urls="/metrics,/healthz")
    return app
