"""A real gateway process (uvicorn, as deployed) on the session's Kafka and FerretDB, alone:
documents are put straight into its read model and events straight onto documents.events,
so what clients see at the door is tested without the pipeline behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from deploy.launcher import Stack, StackConfig
from shared.auth import issue_token
from shared.ids import new_document_id

#: The gateway's UNKNOWN_DOCUMENT_WAIT_S here: short, so "not found" answers come quickly.
WAIT_S = 1.0


@dataclass
class Gateway:
    cfg: StackConfig
    db: Any

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.cfg.ports.gateway}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.cfg.ports.gateway}"

    def token(self, owner: str) -> str:
        return issue_token(self.cfg.ensure_secret(), owner)

    async def finished_document(self, owner: str, generation: int = 1) -> str:
        """A completed document as the read model holds it (no events needed to stream it)."""
        document_id = new_document_id()
        await self.db["documents"].insert_one(
            {
                "_id": document_id,
                "owner": owner,
                "status": "completed",
                "generation": generation,
                "filename": "a.txt",
                "position": {"partition": 0, "offset": 0},
            }
        )
        return document_id


@pytest.fixture(scope="module")
async def gateway(infra: Stack) -> AsyncIterator[Gateway]:
    cfg = StackConfig.beside(
        infra.cfg,
        "gw",
        topic_partitions=2,
        auth_secret=infra.cfg.auth_secret,
        log_level="WARNING",
        extra_env={"DOCSTREAM_GATEWAY_UNKNOWN_DOCUMENT_WAIT_S": str(WAIT_S)},
    )
    stack = Stack(cfg)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cfg.mongo_url, tz_aware=True)
    try:
        await stack.start_services(("gateway",))
        yield Gateway(cfg, client[cfg.mongo_database])
    finally:
        await asyncio.to_thread(stack.stop)
        await client.drop_database(cfg.mongo_database)
        await client.close()
