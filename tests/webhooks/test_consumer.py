"""The webhooks service on the real Kafka and FerretDB (in this process, no faust): a record
whose delivery has not finished is not committed, so a restart delivers it again; once
delivered it is committed. Records it skips are committed at once, even past it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.webhooks import app as webhooks_app
from services.webhooks.settings import WebhooksSettings
from shared import mongo
from shared.events import DocumentCompleted, ExtractionStarted
from shared.kafka import EventProducer, ensure_topics
from shared.webhooks import WEBHOOKS, hooks_id, new_secret
from tests.consumer_service import committed, isolated, running, until
from tests.webhooks.receiver import Receiver

OWNER = "olga"


@pytest.fixture
def settings(kafka_bootstrap: str, mongo_url: str) -> WebhooksSettings:
    return WebhooksSettings(
        **isolated("webhooks", kafka_bootstrap, mongo_url),
        allowed_networks="127.0.0.0/8",
        attempts=1,
        timeout_s=60,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    await rx.start()
    yield rx
    for held in rx.hold.values():
        held.set()  # no request left waiting: the receiver can stop
    await rx.stop()


async def committed_becomes(settings: WebhooksSettings, want: int) -> None:
    seen = None
    for _ in range(100):
        seen = await committed("webhooks", settings)
        if seen == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"committed offset {seen}, not {want}")


async def test_a_delivery_under_way_is_not_committed_and_is_delivered_again_after_a_restart(
    settings: WebhooksSettings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topics, partitions=1)
    client = mongo.connect(settings.mongo_url, app_name="test")
    secret = new_secret()
    receiver.secrets["/slow"] = secret
    endpoint = {
        "id": "wh_1",
        "url": receiver.url("/slow"),
        "secret": secret,
        "events": ["document.completed"],
    }
    await client[settings.mongo_database][WEBHOOKS].insert_one(
        {"_id": hooks_id(OWNER), "endpoints": [endpoint]}
    )
    await client.close()
    producer = EventProducer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    common = {"source": "/t", "owner": OWNER, "generation": 1}
    try:
        for event in (
            ExtractionStarted(subject="doc-a", **common),  # offset 0: skipped
            DocumentCompleted(subject="doc-a", **common),  # offset 1: delivered
            ExtractionStarted(subject="doc-b", **common),  # offset 2: skipped
        ):
            await producer.send(settings.topics.events, event)
    finally:
        await producer.stop()

    receiver.hold["/slow"] = asyncio.Event()  # the receiver does not answer yet
    async with running("webhooks", webhooks_app, settings, monkeypatch) as web:
        assert (await web.get("/healthz")).status_code == 200
        ready = await web.get("/readyz")
        assert ready.status_code == 200 and ready.json()["partitions"] == 1
        await until(lambda: len(receiver.at("/slow")) == 1)
        # Offset 0 is done, 1 is being delivered: 2 is done too, but the commit waits at 1.
        await committed_becomes(settings, 1)
        await asyncio.sleep(1.5)  # more than the commit interval
        assert await committed("webhooks", settings) == 1
        metrics = (await web.get("/metrics")).text
        assert "docstream_consumer_records_total" in metrics
        assert "docstream_webhooks_in_flight 1.0" in metrics
    # Stopped with the delivery under way: cancelled, and still not committed.
    assert await committed("webhooks", settings) == 1

    receiver.hold.pop("/slow").set()  # answers (200) from now on
    async with running("webhooks", webhooks_app, settings, monkeypatch):
        await until(lambda: len(receiver.at("/slow")) == 2)
        first, again = receiver.at("/slow")
        assert again.signed
        assert again.headers["webhook-id"] == first.headers["webhook-id"]  # the same message
        await committed_becomes(settings, 3)
    assert await committed("webhooks", settings) == 3
    assert len(receiver.at("/slow")) == 2
