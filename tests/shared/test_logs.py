"""Logging: a library repeating one error in a retry loop is held to one line per period."""

from __future__ import annotations

import logging

from shared.logs import RepeatLimiter


def _record(name: str, msg: str, created: float) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)
    record.created = created
    return record


def test_a_repeated_library_error_passes_once_per_period_with_a_count() -> None:
    limiter = RepeatLimiter(every_s=10)
    passed = [
        limiter.filter(_record("aiokafka.consumer", "Unable connect to %s", 100 + i * 0.1))
        for i in range(50)
    ]
    assert passed.count(True) == 1
    later = _record("aiokafka.consumer", "Unable connect to %s", 111)
    assert limiter.filter(later)
    assert later.repeated == 49  # type: ignore[attr-defined]
    # Our own messages, and other messages, are never held back.
    assert all(limiter.filter(_record("services.status", "same", 100)) for _ in range(3))
    assert limiter.filter(_record("aiokafka.consumer", "another message", 100.5))
