"""What every service on a plain consumer (status, webhooks, extractor, analyzer) serves
besides its work, and how every HTTP-served service is run.

``/healthz`` (503 naming the parts that stopped), ``/readyz`` (ready once the consumer group
gave this member its partitions) and ``/metrics`` read ``app.state.consumer``,
``app.state.timers`` and ``app.state.watch`` (shared/consumer_watch.py), which the service's
lifespan sets once they run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import logs, tracing
from shared.consumer_watch import ConsumerWatch
from shared.record_consumer import RecordConsumer
from shared.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def add_consumer_endpoints(
    app: FastAPI, service: str, *, parts: Callable[[], list[str]] | None = None
) -> None:
    """``parts``: the names of the service's other parts that stopped (its own checks)."""

    def consumer() -> RecordConsumer | None:
        return getattr(app.state, "consumer", None)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        member = consumer()
        stopped = [] if member is not None and member.running else ["consumer"]
        timers: dict[str, asyncio.Task[None]] = getattr(app.state, "timers", {})
        stopped += [name for name, task in timers.items() if task.done()]
        watch: ConsumerWatch | None = getattr(app.state, "watch", None)
        if watch is not None and watch.stalled is not None and "consumer" not in stopped:
            stopped.append("consumer")  # it exits to be restarted as this is answered
        if parts is not None:
            stopped += [name for name in parts() if name not in stopped]
        if stopped:
            return JSONResponse({"status": "stopped", "parts": stopped, "service": service}, 503)
        return JSONResponse({"status": "ok", "service": service})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Ready once the consumer group gave this member its partitions."""
        member = consumer()
        ready = member is not None and member.ready
        body = {"ready": ready, "service": service, "partitions": member.assigned if member else 0}
        return JSONResponse(body, 200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve(
    service: str,
    settings: S,
    create_app: Callable[[S], FastAPI],
    *,
    port: int,
    **options: Any,
) -> None:
    """Logs and tracing configured for ``service`` (before the app is built), then uvicorn
    until SIGTERM: it stops serving, and the app's lifespan stops what it started."""
    logs.configure(service, level=settings.log_level, json_format=settings.log_json)
    tracing.configure(service, settings.otlp_endpoint)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=port,
        log_config=None,
        access_log=False,
        **options,
    )
