"""ingest's own metrics; HTTP request metrics come from prometheus-fastapi-instrumentator."""

from prometheus_client import Counter, Histogram

UPLOADS = Counter(
    "docstream_ingest_uploads_total",
    "Uploads by outcome (accepted, or the reason they were refused).",
    ["outcome"],
)
UPLOAD_BYTES = Counter("docstream_ingest_upload_bytes_total", "Bytes of accepted uploads.")
COMMANDS = Counter("docstream_ingest_commands_total", "Commands published, by type.", ["command"])
PUBLISH_FAILURES = Counter(
    "docstream_ingest_publish_failures_total",
    "Commands answered 503 because the queue did not take all their records in time.",
)
UPLOAD_SIZE = Histogram(
    "docstream_ingest_upload_size_bytes",
    "Sizes of accepted uploads.",
    buckets=(1e3, 1e4, 1e5, 5e5, 1e6, 5e6, 1e7, 5e7, 1e8, 2e8),
)
WEBHOOK_REGISTRATIONS = Counter(
    "docstream_ingest_webhook_registrations_total",
    "Webhook registrations by outcome (registered, or the reason they were refused).",
    ["outcome"],
)
CLAIMS_REMOVED = Counter(
    "docstream_ingest_idempotency_claims_removed_total",
    "Idempotency claims removed after their key expired (DOCSTREAM_INGEST_IDEMPOTENCY_TTL_S).",
)
