"""Structured logging: one JSON object per line, with the document id when there is one and
the trace id of the active span (grep one document's journey across services by it)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from shared.tracing import current_ids

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Anything passed as extra={...} (document_id, topic, partition, offset) rides along.
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        ids = current_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, *, level: str = "INFO", json_format: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_format:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter(f"%(asctime)s {service} %(levelname)s %(message)s"))
    handler.addFilter(RepeatLimiter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Client libraries are chatty at INFO about every (re)connection.
    for noisy in ("aiokafka", "kafka", "pymongo", "httpx", "google_genai"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class RepeatLimiter(logging.Filter):
    """The same message from the same logger at most once per ``every_s``; the next one that
    passes says how many were held back. While Kafka is down, aiokafka logs the same error
    every 100 ms in every service (about 2,000 lines each in a 15 s outage)."""

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL or not record.name.startswith(_LIMITED):
            return True
        key = (record.name, str(record.msg))
        seen = self._last.get(key)
        if seen is not None and record.created - seen[0] < self.every_s:
            self._last[key] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            record.repeated = seen[1]  # how many were held back since the last one shown
        self._last[key] = (record.created, 0)
        if len(self._last) > 1000:
            self._last.clear()
        return True


#: Libraries that repeat one error in a tight retry loop.
_LIMITED = ("aiokafka", "kafka", "pymongo")
