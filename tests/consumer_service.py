"""Running a service on a plain consumer (status, webhooks) inside a test, as its
``python -m`` does minus uvicorn, and reading what its group committed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from shared.record_consumer import RecordConsumer, group_id
from shared.settings import ServiceSettings


def isolated(service: str, kafka_bootstrap: str, mongo_url: str) -> dict[str, Any]:
    """The settings a service run inside a test shares with the others: the session's Kafka and
    FerretDB, a database and topics of its own (a fresh tag), one partition, a static member
    (as deployed) and no web port."""
    tag = uuid.uuid4().hex[:8]
    return {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "mongo_url": mongo_url,
        "mongo_database": f"{service}_{tag}",
        "topic_prefix": f"{service}-{tag}-",
        "topic_partitions": 1,
        "auth_secret": uuid.uuid4().hex + uuid.uuid4().hex,
        "instance_id": f"{service}-1",
        "web_port": 0,
    }


@asynccontextmanager
async def running(
    service: str,
    module: Any,
    settings: ServiceSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """``module.create_app(settings)`` with its lifespan, once its member has partitions."""
    monkeypatch.setattr(module.heap, "settle", lambda: None)  # not in the test process
    app: FastAPI = module.create_app(settings)
    async with app.router.lifespan_context(app):
        consumer: RecordConsumer = app.state.consumer
        await until(lambda: consumer.ready)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as web:
            yield web


async def until(check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def committed(service: str, settings: ServiceSettings) -> int | None:
    """The offset ``service``'s group committed on partition 0 of documents.events."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id(service, settings))
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(settings.topics.events, 0))
    return None if meta is None or meta.offset < 0 else int(meta.offset)
