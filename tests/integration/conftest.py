"""The five services, started once per test module on the session's Kafka and FerretDB, with
their own topic prefix, database and blob folder."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from deploy.launcher import Stack, StackConfig
from deploy.launcher.config import Ports
from tests.integration.client import Pipeline


def pipeline_config(infra: Stack, **extra_env: str) -> StackConfig:
    run = uuid.uuid4().hex[:8]
    ports = replace(
        Ports.free(),
        kafka=infra.cfg.ports.kafka,
        kafka_controller=infra.cfg.ports.kafka_controller,
        mongo=infra.cfg.ports.mongo,
    )
    return StackConfig(
        data_dir=infra.cfg.data_dir / f"run-{run}",
        ports=ports,
        topic_prefix=f"t{run}.",
        topic_partitions=2,
        mongo_database=f"docstream_{run}",
        auth_secret=infra.cfg.auth_secret,
        log_level="WARNING",
        extra_env={"DOCSTREAM_LOG_JSON": "true", **extra_env},
    )


@pytest.fixture(scope="module")
def pipeline(infra: Stack) -> Iterator[Pipeline]:
    stack = Stack(pipeline_config(infra, DOCSTREAM_EXTRACTOR_WORKERS="2"))
    try:
        asyncio.run(_start(stack))
        yield Pipeline(stack.cfg)
    finally:
        stack.stop()


async def _start(stack: Stack) -> None:
    await stack.start_services()
    await stack.wait_consumers_ready()
