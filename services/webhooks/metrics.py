"""webhooks' own metrics; its consumer's (records read, offset commits) are
``docstream_consumer_*`` (shared/record_consumer.py). Labels are bounded: outcomes and status
classes, never URLs or owners."""

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "docstream_webhooks_attempts_total",
    "POSTs to endpoints, by result (2xx, 3xx, 4xx, 5xx, timeout, error, refused).",
    ["result"],
)
DELIVERIES = Counter(
    "docstream_webhooks_deliveries_total",
    "Deliveries finished, by outcome (delivered, dead_lettered, endpoint_gone).",
    ["outcome"],
)
ATTEMPT_SECONDS = Histogram(
    "docstream_webhooks_attempt_duration_seconds",
    "Time of one POST, until the endpoint's answer (or the error).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge("docstream_webhooks_in_flight", "Deliveries under way (retries included).")
RECORD_FAILURES = Counter(
    "docstream_webhooks_record_failures_total",
    "Attempts that could not be recorded in the database (the delivery went on).",
)
