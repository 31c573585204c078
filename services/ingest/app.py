"""The ingest FastAPI application and its lifespan (producer, MongoDB client, blob store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_fastapi_instrumentator import Instrumentator
from pymongo.errors import PyMongoError

from services.ingest import deletion, queries
from services.ingest.errors import (
    ApiError,
    api_error_handler,
    read_model_unavailable_handler,
    validation_error_handler,
)
from services.ingest.publishing import Publisher
from services.ingest.routes import router
from services.ingest.settings import IngestSettings
from shared import mongo
from shared.blobs import LocalBlobStore
from shared.kafka import EventProducer, ensure_topics
from shared.readmodel import ReadModel


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
        app.state.db = client[settings.mongo_database]
        app.state.read_model = ReadModel(
            app.state.db, partitions=await producer.partitions(settings.topics.events)
        )
        try:
            yield
        finally:
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
    app.state.blobs = LocalBlobStore(settings.blob_dir)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(PyMongoError, read_model_unavailable_handler)
    app.include_router(router)
    app.include_router(queries.router)
    app.include_router(deletion.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "ingest"}

    Instrumentator(excluded_handlers=["/metrics", "/healthz"]).instrument(app).expose(
        app, include_in_schema=False
    )
    return app
