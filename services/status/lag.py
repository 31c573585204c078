"""Exports every docstream consumer group's lag (``docstream_consumer_lag``) from status.

Status runs it because it is always up and already holds a Kafka connection's worth of
settings; each replica exports the same reading, so dashboards and alerts take ``max``.
"""

from __future__ import annotations

import logging

from aiokafka.errors import KafkaError

from services.status import metrics
from shared.lag import LagReader

log = logging.getLogger(__name__)


async def export_lag(reader: LagReader) -> None:
    try:
        rows = await reader.read()
    except (KafkaError, OSError, TimeoutError) as exc:
        metrics.LAG_SCRAPE_ERRORS.inc()
        log.warning("could not read consumer lag", extra={"error": repr(exc)[:200]})
        return
    # Replaced whole: a group or partition that went away must not keep its last value.
    metrics.CONSUMER_LAG.clear()
    for row in rows:
        metrics.CONSUMER_LAG.labels(row.group, row.topic, str(row.partition)).set(row.lag)
