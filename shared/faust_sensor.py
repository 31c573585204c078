"""faust's own Prometheus sensor, with the one metric whose name breaks Prometheus's naming
rules fixed: faust exports the events' runtime as ``<prefix>_events_runtime_ms`` (promtool
check metrics: "metric names should not contain abbreviated units"); ours is
``<prefix>_events_runtime_seconds``, in seconds, with buckets for a document's stage."""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Histogram, generate_latest

RUNTIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class _Monitor(PrometheusMonitor):
    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        # PrometheusMonitor's version observes milliseconds; the rest of it is kept.
        Monitor.on_stream_event_out(self, tp, offset, stream, event, state)
        self._metrics.total_active_events.dec()
        if state is not None:
            self._metrics.events_runtime_latency.observe(self.events_runtime[-1])


def setup(app: faust.App, name_prefix: str) -> None:
    metrics = FaustMetrics.create(REGISTRY, name_prefix)
    REGISTRY.unregister(metrics.events_runtime_latency)
    runtime = Histogram(
        f"{name_prefix}_events_runtime_seconds",
        "Time from an event's arrival in a stream to its acknowledgement.",
        buckets=RUNTIME_BUCKETS,
    )
    app.monitor = _Monitor(metrics=metrics._replace(events_runtime_latency=runtime))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        body = generate_latest(REGISTRY)
        return web.bytes(body, headers={"Content-Type": CONTENT_TYPE_LATEST})
