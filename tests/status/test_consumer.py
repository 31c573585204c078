"""The status service on the real Kafka and FerretDB (in this process, no faust): a batch is
committed only once it is in the read model, so a batch whose write keeps failing is not
committed, and a restart folds it again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.status import app as status_app
from services.status.settings import StatusSettings
from services.status.store import ReadModelStore
from shared import mongo
from shared.events import AcceptedData, DocumentAccepted, ExtractionStarted
from shared.kafka import EventProducer, ensure_topics
from shared.readmodel import DOCUMENTS
from tests.consumer_service import committed, isolated, running, until

OWNER = "olga"


@pytest.fixture
def settings(kafka_bootstrap: str, mongo_url: str, tmp_path: Path) -> StatusSettings:
    return StatusSettings(
        **isolated("status", kafka_bootstrap, mongo_url),
        blob_dir=tmp_path / "blobs",
        state_dir=tmp_path / "state",
        batch_within_s=0.05,
    )


async def stored(settings: StatusSettings, document_id: str) -> dict[str, Any] | None:
    client = mongo.connect(settings.mongo_url, app_name="test")
    try:
        doc: dict[str, Any] | None = await client[settings.mongo_database][DOCUMENTS].find_one(
            {"_id": document_id}
        )
        return doc
    finally:
        await client.close()


async def test_a_batch_whose_write_fails_is_not_committed_and_is_folded_again_after_a_restart(
    settings: StatusSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topics, partitions=1)
    producer = EventProducer(settings.kafka_bootstrap_servers, client_id="test")
    await producer.start()
    common = {"source": "/t", "subject": "doc-a", "owner": OWNER, "generation": 1}
    try:
        await producer.send(
            settings.topics.events,
            DocumentAccepted(**common, data=AcceptedData(filename="a.pdf", size=1, sha256="s")),
        )
        await producer.send(settings.topics.events, ExtractionStarted(**common))
    finally:
        await producer.stop()

    attempts = 0
    apply = ReadModelStore.apply

    async def database_down(self: ReadModelStore, *args: Any, **kwargs: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise AutoReconnect("the database is down")

    monkeypatch.setattr(ReadModelStore, "apply", database_down)
    async with running("status", status_app, settings, monkeypatch) as web:
        assert (await web.get("/healthz")).status_code == 200
        ready = await web.get("/readyz")
        assert ready.status_code == 200 and ready.json()["partitions"] == 1
        await until(lambda: attempts >= 3)  # the batch is retried, not skipped
        await asyncio.sleep(1.5)  # more than the commit interval
        assert await committed("status", settings) is None
        metrics = (await web.get("/metrics")).text
        assert 'docstream_consumer_records_total{topic="' + settings.topics.events in metrics
        assert "docstream_status_write_retries_total" in metrics
    # Stopped with the batch still failing: cancelled, and still not committed.
    assert await committed("status", settings) is None
    assert await stored(settings, "doc-a") is None

    monkeypatch.setattr(ReadModelStore, "apply", apply)  # the database is back
    async with running("status", status_app, settings, monkeypatch):
        for _ in range(100):
            if await committed("status", settings) == 2:
                break
            await asyncio.sleep(0.1)
        assert await committed("status", settings) == 2
    doc = await stored(settings, "doc-a")
    assert doc is not None and doc["status"] == "extracting"
    assert doc["events_folded"] == 2


async def test_partitions_moving_while_the_database_is_down_still_drop_the_caches(
    settings: StatusSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held changes are written first if the database lets them; the caches go regardless
    (kept, this member could overwrite the new owner's writes)."""

    async def database_down(self: ReadModelStore, *, all_of_them: bool = False) -> None:
        raise AutoReconnect("the database is down")

    monkeypatch.setattr(ReadModelStore, "write_held", database_down)
    client = mongo.connect(settings.mongo_url, app_name="test")
    try:
        producer = EventProducer(settings.kafka_bootstrap_servers, client_id="test")
        status = status_app.Status(settings, producer, client)
        status.use(client[settings.mongo_database])
        assert status.store is not None
        status.store._cache["doc-a"] = {"_id": "doc-a"}
        await status.forget_moved_documents(set())
        assert "doc-a" not in status.store._cache
    finally:
        await client.close()
