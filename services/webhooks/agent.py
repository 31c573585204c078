"""The webhooks agent: documents.events in, a delivery task per finished document out.

A record is acknowledged only once its deliveries are done (delivered or dead-lettered), so a
crash redelivers it. Deliveries run beside the consumer, so a receiver in its backoff holds up
neither the partition nor other deliveries; records are therefore acknowledged out of order,
and faust commits only up to the first record still unacknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from services.webhooks.delivery import Deliverer, Notice, notice_of
from services.webhooks.sender import Sender
from services.webhooks.settings import WebhooksSettings
from shared import mongo
from shared.stream_app import create_app, raw_topic
from shared.webhooks import parse_networks

log = logging.getLogger(__name__)


def build(settings: WebhooksSettings) -> Any:
    app, producer, resources = create_app("webhooks", settings, web_port=settings.web_port)
    events_topic = raw_topic(app, settings.topics.events)
    allowed = parse_networks(settings.allowed_networks)
    state: dict[str, Any] = {}
    running: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(settings.max_in_flight)

    async def connect() -> None:
        client = mongo.connect(settings.mongo_url, app_name="docstream-webhooks")
        # No proxies from the environment, and redirects are not followed (see sender.py).
        http = httpx.AsyncClient(
            timeout=settings.timeout_s, follow_redirects=False, trust_env=False
        )
        state.update(client=client, http=http)
        state["deliverer"] = Deliverer(
            settings, lambda: client[settings.mongo_database], Sender(http, allowed), producer
        )

    async def close() -> None:
        for task in list(running):
            task.cancel()  # unacknowledged: the next owner of the partition delivers again
        await asyncio.gather(*running, return_exceptions=True)
        await state["http"].aclose()
        await state["client"].close()

    resources.add(connect, close)

    async def deliver(stream: Any, event: Any, notice: Notice) -> None:
        message = event.message
        try:
            await state["deliverer"].deliver(notice, message.partition, message.offset)
        except Exception:
            # A bug, not a receiver's failure (those end in a dead letter): holding the
            # record would stop the partition's commits for ever.
            log.exception(
                "webhook delivery crashed",
                extra={"document_id": notice.document_id, "offset": message.offset},
            )
        finally:
            slots.release()
        await stream.ack(event)

    @app.agent(events_topic)
    async def deliver_notices(stream: Any) -> None:
        async for event in stream.noack().events():
            await resources.ensure_started()
            notice = notice_of(event.value)
            if notice is None:
                await stream.ack(event)
                continue
            await slots.acquire()
            task = asyncio.create_task(deliver(stream, event, notice))
            running.add(task)
            task.add_done_callback(running.discard)

    return app
