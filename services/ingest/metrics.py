"""ingest's own metrics; HTTP request metrics come from prometheus-fastapi-instrumentator."""

from prometheus_client import Counter

UPLOADS = Counter(
    "docstream_ingest_uploads_total",
    "Uploads by outcome (accepted, or the reason they were refused).",
    ["outcome"],
)
UPLOAD_BYTES = Counter("docstream_ingest_upload_bytes_total", "Bytes of accepted uploads.")
COMMANDS = Counter("docstream_ingest_commands_total", "Commands published, by type.", ["command"])
