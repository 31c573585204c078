"""gateway's own metrics; HTTP metrics come from prometheus-fastapi-instrumentator."""

from prometheus_client import Counter, Gauge

CONNECTIONS = Gauge("docstream_gateway_open_connections", "Open WebSocket connections.")
CONNECTIONS_TOTAL = Counter(
    "docstream_gateway_connections_total", "WebSocket connections by how they ended.", ["outcome"]
)
MESSAGES = Counter(
    "docstream_gateway_messages_total", "Messages sent to clients, by type.", ["type"]
)
COALESCED = Counter(
    "docstream_gateway_coalesced_total",
    "Progress events dropped for a slow client (a newer one replaced them).",
)
EVENTS_SEEN = Counter("docstream_gateway_events_total", "Events read from documents.events.")
