"""The five services, started once per test module on the session's Kafka and FerretDB, with
their own topic prefix, database and blob folder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from deploy.launcher import Stack, StackConfig
from tests.integration.client import PREVIOUS_AUTH_SECRET, Pipeline


def pipeline_config(infra: Stack, **extra_env: str) -> StackConfig:
    return StackConfig.beside(
        infra.cfg,
        "run",
        topic_partitions=2,
        auth_secret=infra.cfg.auth_secret,
        log_level="WARNING",
        extra_env={
            "DOCSTREAM_LOG_JSON": "true",
            # A record stuck for this long is logged with where it waits: a failing test's
            # report carries the services' logs (tests/conftest.py).
            "DOCSTREAM_SLOW_RECORD_S": "20",
            **extra_env,
        },
    )


@pytest.fixture(scope="module")
def pipeline(infra: Stack) -> Iterator[Pipeline]:
    stack = Stack(
        pipeline_config(
            infra,
            DOCSTREAM_EXTRACTOR_WORKERS="2",
            # lets a test make the extractor's worker sleep (a document stuck in C code)
            DOCSTREAM_EXTRACTOR_TEST_HOOKS="1",
            DOCSTREAM_INGEST_MAX_UPLOAD_BYTES=str(8 * 2**20),
            # webhooks the tests register point at 127.0.0.1 (never further)
            DOCSTREAM_WEBHOOKS_ALLOWED_NETWORKS="127.0.0.0/8",
            # the secret before a rotation: its tokens and sealed passwords still count
            DOCSTREAM_AUTH_PREVIOUS_SECRETS=json.dumps([PREVIOUS_AUTH_SECRET]),
        )
    )
    try:
        asyncio.run(_start(stack))
        yield Pipeline(stack.cfg)
    finally:
        stack.stop()


async def _start(stack: Stack) -> None:
    await stack.start_services()
    await stack.wait_consumers_ready()
