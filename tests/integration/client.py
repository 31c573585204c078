"""A small client of the running pipeline, as a user or a test would use it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from deploy.launcher import StackConfig
from shared.auth import issue_token

#: The integration stack's DOCSTREAM_AUTH_PREVIOUS_SECRETS: the secret before a rotation.
PREVIOUS_AUTH_SECRET = "the-secret-before-the-rotation"


class Pipeline:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.api = f"http://127.0.0.1:{cfg.ports.ingest}"
        self.ws = f"ws://127.0.0.1:{cfg.ports.gateway}"

    def token(self, owner: str) -> str:
        return issue_token(self.cfg.ensure_secret(), owner)

    def headers(self, owner: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(owner)}"}

    async def upload(
        self,
        path: Path | None,
        owner: str,
        *,
        data: bytes | None = None,
        filename: str | None = None,
        fields: dict[str, str] | None = None,
    ) -> httpx.Response:
        if data is None:
            assert path is not None
            data = await asyncio.to_thread(path.read_bytes)
        name = filename or (path.name if path else "upload.bin")
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{self.api}/v1/documents",
                headers=self.headers(owner),
                files={"file": (name, data)},
                data=fields or {},
            )

    async def get(self, document_id: str, owner: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(
                f"{self.api}/v1/documents/{document_id}", headers=self.headers(owner)
            )

    async def wait_for_status(
        self,
        document_id: str,
        owner: str,
        statuses: set[str],
        timeout_s: float = 60,
        generation: int = 1,
    ) -> dict[str, Any]:
        """Poll the read model until the document reaches one of ``statuses``."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            response = await self.get(document_id, owner)
            if response.status_code == 200:
                last = response.json()
                if last.get("status") in statuses and last.get("generation", 1) >= generation:
                    return dict(last)
            await asyncio.sleep(0.1)
        raise AssertionError(f"{document_id} never reached {statuses}; last seen {last}")

    async def watch(
        self,
        document_id: str,
        owner: str | None,
        *,
        token: str | None = None,
        timeout_s: float = 60,
        generation: int | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """All messages of one WebSocket session and the close code it ended with."""
        url = f"{self.ws}/ws/documents/{document_id}"
        if token is None and owner is not None:
            token = self.token(owner)
        params = {"token": token, "generation": generation}
        query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
        if query:
            url += f"?{query}"
        messages: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout_s), websockets.connect(url) as ws:
            try:
                async for raw in ws:
                    messages.append(json.loads(raw))
            except websockets.ConnectionClosed:
                pass
            return messages, ws.close_code


async def read_topic(
    cfg: StackConfig,
    topic: str,
    done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    *,
    timeout_s: float = 15,
) -> list[ConsumerRecord[bytes, bytes]]:
    """A topic's records from the beginning, as a downstream consumer reads them, until
    ``done(records so far)`` holds (or the time is up: the caller asserts on what it got)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=cfg.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline and not done(records):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


StopWhen = Callable[[dict[str, Any]], bool]


async def stream(
    url: str,
    *,
    stop: StopWhen | None = None,
    timeout_s: float = 60,
    send: list[dict[str, Any]] | None = None,
    answer_pings: bool = True,
) -> tuple[list[dict[str, Any]], int | None]:
    """The messages of one WebSocket session (pings answered and not kept, unless
    ``answer_pings`` is off) and its close code;
    ``stop`` hangs up after the first message it accepts, as a client going away does."""
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s), websockets.connect(url) as ws:
        for message in send or ():
            await ws.send(json.dumps(message))
        try:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ping" and answer_pings:
                    await ws.send('{"type":"pong"}')
                    continue
                messages.append(message)
                if stop is not None and stop(message):
                    break
        except websockets.ConnectionClosed:
            pass
    return messages, ws.close_code


def events_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["event"] for m in messages if m["type"] == "event"]
