"""HEAD wherever GET is (RFC 9110 §9.3.2: the headers GET would answer, without the body).

Starlette's own routes add HEAD to GET; FastAPI's take only the methods they are declared
with, and declaring HEAD beside each GET would give every such path a second operation in the
OpenAPI. So a HEAD that some route would take as a GET is served as that GET, and its body is
dropped here (the server, which knows the request was HEAD, sends none either). A HEAD where
no GET is stays HEAD: 405, whose ``Allow`` names HEAD wherever it names GET.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        as_get = {**scope, "method": "GET"}
        if not any(route.matches(as_get)[0] is Match.FULL for route in self.routes()):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(as_get, receive, headers_only)
