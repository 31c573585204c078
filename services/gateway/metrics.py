"""gateway's own metrics; HTTP metrics come from prometheus-fastapi-instrumentator.

Labels are bounded: ``stream`` is document or user, ``transport`` websocket or sse,
``outcome`` one of the close reasons the gateway itself names.
"""

from prometheus_client import Counter, Gauge, Histogram

CONNECTIONS = Gauge("docstream_gateway_open_connections", "Open client connections.", ["stream"])
CONNECTIONS_TOTAL = Counter(
    "docstream_gateway_connections_total",
    "Client connections by transport and how they ended.",
    ["transport", "outcome"],
)
MESSAGES = Counter(
    "docstream_gateway_messages_total", "Messages sent to clients, by type.", ["type"]
)
COALESCED = Counter(
    "docstream_gateway_coalesced_total",
    "Progress events dropped for a slow client (a newer one replaced them).",
)
EVENTS_SEEN = Counter("docstream_gateway_events_total", "Events read from documents.events.")
BACKFILL_RECORDS = Counter(
    "docstream_gateway_backfill_records_total",
    "Records of documents.events read again from Kafka to resume clients.",
)
BACKFILL_SECONDS = Histogram(
    "docstream_gateway_backfill_duration_seconds",
    "Time to read one partition's missed records for a resuming client.",
)
COMMANDS = Counter(
    "docstream_gateway_commands_total", "Client commands, by kind and result.", ["kind", "result"]
)
