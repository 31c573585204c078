"""Traces: one W3C trace per document, carried in Kafka headers from the upload to the WebSocket.

ingest's request span (FastAPI instrumentation, which also honours a client's ``traceparent``)
is the root; every record a service produces carries the current context as a ``traceparent``
header (:func:`kafka_headers`), and every stage that consumes a record works inside a span
whose parent is that header (:func:`consuming`). Spans are exported by OTLP/HTTP only when an
endpoint is configured; trace ids are made either way, so the JSON logs (``trace_id``, see
:mod:`shared.logs`) follow one document across the five services with one grep.

We propagate by hand rather than with opentelemetry-instrumentation-aiokafka: our consumers
fetch in one loop and hand records to their handlers later, in other tasks, so the
instrumentor's consumer span would be over before a handler starts and its context would never
reach the records the handler produces.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

_TRACER_NAME = "docstream"
#: Only the W3C headers: nothing else of ours is a propagation field.
_FIELDS = ("traceparent", "tracestate")

Headers = Mapping[str, Any] | Iterable[tuple[str, Any]] | None


def configure(service: str, otlp_endpoint: str | None = None) -> None:
    """A real tracer provider for the process (ids are generated even without an exporter)."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"docstream-{service}"}))
    if otlp_endpoint:
        # Imported here: only a deployment with a collector pays for the exporter's imports.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    global _tracer
    _tracer = None


_tracer: trace.Tracer | None = None


def tracer() -> trace.Tracer:
    # Looked up once: get_tracer builds a tracer (and resets a warnings filter) on every call,
    # ~60 us, paid per consumed record.
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(_TRACER_NAME)
    return _tracer


def kafka_headers() -> list[tuple[str, bytes]]:
    """The current context as Kafka headers (empty outside any trace)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(k, v.encode()) for k, v in carrier.items() if k in _FIELDS]


def _carrier(headers: Headers) -> dict[str, str]:
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    carrier: dict[str, str] = {}
    for key, value in pairs:
        if key in _FIELDS and value is not None:
            carrier[key] = value.decode(errors="replace") if isinstance(value, bytes) else value
    return carrier


@contextmanager
def consuming(name: str, headers: Headers, **attributes: str | int) -> Iterator[Span]:
    """Work on one consumed record inside a span whose parent is the record's ``traceparent``
    (a new trace when it has none, e.g. a record of an older producer)."""
    parent = propagate.extract(_carrier(headers))
    with tracer().start_as_current_span(
        name, context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in W3C hex of the active span, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
