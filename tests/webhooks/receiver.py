"""A webhook receiver on 127.0.0.1 for tests: checks each request's signature, and answers
each path with a script of status codes (the last one repeats), or holds its answer until
told (``hold``)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from shared.webhooks import verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed: bool


@dataclass
class Receiver:
    #: path -> the status codes answered in turn (the last repeats)
    script: dict[str, list[int]] = field(default_factory=dict)
    #: path -> the endpoint's secret, once registered
    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    #: path -> answered only once the event is set (a delivery that has not finished)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        secret = self.secrets.get(request.path)
        signed = secret is not None and verify(
            secret,
            headers.get("webhook-id", ""),
            int(headers.get("webhook-timestamp", "0")),
            body,
            headers.get("webhook-signature", ""),
        )
        self.received.append(Received(request.path, headers, body, signed))
        held = self.hold.get(request.path)
        if held is not None:
            await held.wait()
        script = self.script.get(request.path, [200])
        status = script[min(len(self.at(request.path)) - 1, len(script) - 1)]
        return web.Response(status=status)


def as_json(received: Received) -> Any:
    return json.loads(received.body)
