"""What every service on a plain consumer (status, webhooks, extractor, analyzer) serves
besides its work, and how every HTTP-served service is run.

``/healthz`` (503 naming the parts that stopped), ``/readyz`` (ready once the consumer group
gave this member its partitions) and ``/metrics`` read ``app.state.consumer``,
``app.state.timers`` and ``app.state.watch`` (shared/consumer_watch.py), which the service's
lifespan sets once they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
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
log = logging.getLogger(__name__)
#: uvicorn's exit status when the app did not start (its lifespan's startup failed).
STARTUP_FAILURE = 3


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


#: How long a service may take to stop once asked (SIGTERM, SIGINT). Stopping waits on its
#: dependencies (a final offset commit, held writes, the producer's flush), each bounded on
#: its own, but a client library can still starve the event loop: with the broker gone,
#: aiokafka's metadata retries once spun (now bounded, shared/kafka_backoff.py) and a status
#: replica took over 40 s. Past the deadline the process exits at once; what it had not
#: committed is read again by whoever reads it next.
STOP_DEADLINE_S = 30.0


class _Server(uvicorn.Server):
    """uvicorn's server, with a deadline armed by the first stop signal."""

    def __init__(self, config: uvicorn.Config, service: str) -> None:
        super().__init__(config)
        self._service = service
        self._deadline: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._deadline is None:
            # A thread: it fires even while the event loop is starved.
            self._deadline = threading.Timer(STOP_DEADLINE_S, _stop_now, (self._service, sig))
            self._deadline.daemon = True
            self._deadline.start()
        super().handle_exit(sig, frame)


def _stop_now(service: str, sig: int) -> None:
    log.error(
        "not stopped in time; exiting now",
        extra={"service": service, "signal": signal.Signals(sig).name, "after_s": STOP_DEADLINE_S},
    )
    logging.shutdown()
    os._exit(1)


def serve(
    service: str,
    settings: S,
    create_app: Callable[[S], FastAPI],
    *,
    port: int,
    **options: Any,
) -> None:
    """Logs and tracing configured for ``service`` (before the app is built), then uvicorn
    until SIGTERM: it stops serving, and the app's lifespan stops what it started (within
    :data:`STOP_DEADLINE_S`)."""
    logs.configure(service, level=settings.log_level, json_format=settings.log_json)
    tracing.configure(service, settings.otlp_endpoint)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.bind_host,
        port=port,
        log_config=None,
        access_log=False,
        **options,
    )
    server = _Server(config, service)
    # As uvicorn.run: a Ctrl-C it raises again once stopped ends the process quietly.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
