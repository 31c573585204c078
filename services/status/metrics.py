"""status's own metrics; its consumer's come from shared/record_consumer.py
(``docstream_consumer_records_total``, ``docstream_consumer_commits_total``)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_FOLDED = Counter(
    "docstream_status_events_total",
    "Lifecycle events seen, by outcome (folded, skipped, invalid).",
    ["outcome"],
)
WRITE_CONFLICTS = Counter(
    "docstream_status_write_conflicts_total",
    "Optimistic writes that lost to a concurrent writer and were folded again.",
)
BATCH_SECONDS = Histogram(
    "docstream_status_batch_duration_seconds",
    "Time to fold and write one batch of events.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DOCUMENTS_FINISHED = Counter(
    "docstream_documents_finished_total",
    "Documents that reached a terminal state, by status and reason.",
    ["status", "reason"],
)
WRITE_RETRIES = Counter(
    "docstream_status_write_retries_total",
    "Read-model writes retried (database unavailable, or lost races), by error type.",
    ["error"],
)
REDRIVES = Counter(
    "docstream_status_redrives_total",
    "Stalled documents whose stage's work was sent again, by stage.",
    ["stage"],
)
STALLED = Counter(
    "docstream_status_stalled_total",
    "Stalled documents failed with reason 'stalled' after their re-drives ran out, by stage.",
    ["stage"],
)
WATCHDOG_SKIPPED = Counter(
    "docstream_status_watchdog_skipped_total",
    "Watchdog sweeps of a partition skipped because the fold was behind on it.",
)
HOUSEKEPT = Counter(
    "docstream_status_housekept_total",
    "Finished documents tidied by retention, by what went (log, failed_files).",
    ["what"],
)
END_TO_END = Histogram(
    "docstream_document_duration_seconds",
    "From document.accepted to the terminal event (event times), by terminal status.",
    ["status"],
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
CONSUMER_LAG = Gauge(
    "docstream_consumer_lag",
    "Records not yet committed by a docstream consumer group, per topic and partition "
    "(from Kafka's admin API; every status replica exports the same figures: use max).",
    ["group", "topic", "partition"],
)
LAG_SCRAPE_ERRORS = Counter(
    "docstream_consumer_lag_errors_total", "Lag readings that failed (broker unreachable)."
)
