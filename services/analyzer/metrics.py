"""analyzer's own metrics; its consumer's (records read, offset commits) come from
shared/record_consumer.py."""

from prometheus_client import Counter, Histogram

DOCUMENTS = Counter(
    "docstream_analyzer_documents_total",
    "Documents handled, by outcome (completed, failed, cancelled) and reason.",
    ["outcome", "reason"],
)
DURATION = Histogram(
    "docstream_analyzer_duration_seconds",
    "Wall time of one document's analysis.",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TOKENS = Counter("docstream_analyzer_tokens_total", "Model tokens used.", ["model", "direction"])
COST = Counter(
    "docstream_analyzer_cost_usd_total", "Estimated model cost in US dollars.", ["model"]
)
MODEL_CALLS = Counter("docstream_analyzer_model_calls_total", "Model calls made.", ["model"])
DEAD_LETTERS = Counter("docstream_analyzer_dead_letters_total", "Records dead-lettered.")
RETRIES = Counter(
    "docstream_analyzer_retries_total",
    "Analyses run again after a transient error (broker, database, blob storage), by error.",
    ["error"],
)
RATE_LIMIT_WAIT = Histogram(
    "docstream_analyzer_rate_limit_wait_seconds",
    "Time a model call waited for its slot under DOCSTREAM_ANALYZER_RATE_LIMIT_PER_MINUTE.",
    buckets=(0, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
MODEL_RETRIES = Counter(
    "docstream_analyzer_model_retries_total",
    "Model calls retried in place (429, 5xx, timeouts), by reason.",
    ["reason"],
)
