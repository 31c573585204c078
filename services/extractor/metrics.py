"""extractor's own metrics; consumer metrics come from faust's Prometheus sensor."""

from prometheus_client import Counter, Gauge, Histogram

DOCUMENTS = Counter(
    "docstream_extractor_documents_total",
    "Documents handled, by outcome (completed, failed, cancelled) and reason.",
    ["outcome", "reason"],
)
PAGES = Counter("docstream_extractor_pages_total", "Pages extracted.")
DURATION = Histogram(
    "docstream_extractor_duration_seconds",
    "Wall time of one document's extraction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
IN_FLIGHT = Gauge("docstream_extractor_in_flight", "Documents being extracted now.")
DEAD_LETTERS = Counter("docstream_extractor_dead_letters_total", "Records dead-lettered.")
RETRIES = Counter(
    "docstream_extractor_retries_total",
    "Extractions run again after a transient error (broker, database, blob storage), by error.",
    ["error"],
)
