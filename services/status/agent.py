"""The status agent: batches of lifecycle events, grouped per document, folded and written."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from pydantic import ValidationError
from pymongo.errors import PyMongoError

from services.status import metrics, store
from services.status.fold import Position
from services.status.settings import StatusSettings
from shared import mongo
from shared.events import decode
from shared.stream_app import create_app, raw_topic

log = logging.getLogger(__name__)


def build(settings: StatusSettings) -> Any:
    app, _producer, resources = create_app("status", settings, web_port=settings.web_port)
    events_topic = raw_topic(app, settings.topics.events)
    state: dict[str, Any] = {}

    async def connect_mongo() -> None:
        client = mongo.connect(settings.mongo_url, app_name="docstream-status")
        db = client[settings.mongo_database]
        await mongo.ensure_indexes(db)
        state["client"] = client
        state["store"] = store.ReadModelStore(db[mongo.DOCUMENTS])

    async def close_mongo() -> None:
        await state["client"].close()

    resources.add(connect_mongo, close_mongo)

    @app.agent(events_topic)
    async def fold_events(stream: Any) -> None:
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            await resources.ensure_started()
            started = time.perf_counter()
            per_document: dict[str, list[store.Folded]] = defaultdict(list)
            for ev in batch:
                try:
                    event = decode(ev.value)
                except ValidationError:
                    metrics.EVENTS_FOLDED.labels("invalid").inc()
                    log.warning(
                        "not a docstream event; skipped",
                        extra={"partition": ev.message.partition, "offset": ev.message.offset},
                    )
                    continue
                position = Position(ev.message.partition, ev.message.offset)
                per_document[event.subject].append((event, position))
            await _write_until_done(state, per_document)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    return app


async def _write_until_done(state: dict[str, Any], per_document: dict[str, Any]) -> None:
    """The batch is acknowledged only after this returns, so a database outage holds the
    stream (nothing lost, nothing skipped) instead of crashing the agent."""
    delay = 0.1
    while True:
        try:
            # Documents are independent; their writes can overlap.
            await asyncio.gather(
                *(state["store"].apply(doc_id, evs) for doc_id, evs in per_document.items())
            )
            return
        except PyMongoError as exc:
            log.warning(
                "read model write failed; retrying", extra={"error": repr(exc), "retry_in_s": delay}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
