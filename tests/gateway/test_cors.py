"""A web page on another origin (the product's own page is served by ingest) reads the SSE
streams: CORS on the stream routes, in a real browser (Debian's Chromium, through Playwright)
and header by header."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from services.gateway.settings import GatewaySettings
from tests.gateway.conftest import Gateway

PAGE = b"<!doctype html><title>elsewhere</title><p>a page on another origin</p>"

#: Opens an EventSource on the URL and gathers its events until the stream's ``close`` event
#: (then closes it: an EventSource would reconnect); rejects on an error before that.
WATCH = """url => new Promise((resolve, reject) => {
  const got = [];
  const source = new EventSource(url);
  for (const name of ["snapshot", "event"]) {
    source.addEventListener(name, e => {
      got.push({name, id: e.lastEventId, data: JSON.parse(e.data)});
    });
  }
  source.addEventListener("close", e => {
    source.close();
    resolve({got, close: JSON.parse(e.data)});
  });
  source.onerror = () => {
    source.close();
    reject(new Error(`EventSource failed; readyState ${source.readyState}; got ${got.length}`));
  };
})"""


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    """The origin of a page that is not the gateway's (as ingest's page is not)."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_an_eventsource_on_a_page_of_another_origin_gets_the_events(
    gateway: Gateway, elsewhere: str, browser: Browser
) -> None:
    document_id = await gateway.finished_document("paige")
    url = f"{gateway.http}/v1/documents/{document_id}/stream?token={gateway.token('paige')}"
    page = await browser.new_page()
    try:
        await page.goto(f"{elsewhere}/")
        result = await asyncio.wait_for(page.evaluate(WATCH, url), 20)
    finally:
        await page.close()
    assert [e["name"] for e in result["got"]] == ["snapshot"]
    snapshot = result["got"][0]
    assert snapshot["data"]["document"]["id"] == document_id
    assert snapshot["id"] == snapshot["data"]["cursor"]  # what a resume sends back
    assert result["close"] == {"code": 1000, "reason": "done"}


async def test_the_stream_routes_answer_cors_and_nothing_else_does(
    gateway: Gateway, elsewhere: str
) -> None:
    document_id = await gateway.finished_document("corsa")
    origin = {"Origin": elsewhere}
    stream = f"{gateway.http}/v1/documents/{document_id}/stream"
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(stream, params={"token": gateway.token("corsa")}, headers=origin)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        # a refusal is readable too: the page can tell why
        refused = await client.get(f"{gateway.http}/v1/stream", headers=origin)
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "*"
        assert refused.json()["reason"] == "missing_credentials"
        # fetch() with a bearer token, or an EventSource resuming, asks first
        preflight = await client.options(
            f"{gateway.http}/v1/stream",
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, last-event-id",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "last-event-id", "x-api-key"} <= set(allowed.split(", "))
        for path in ("/healthz", "/metrics"):
            other = await client.get(f"{gateway.http}{path}", headers=origin)
            assert "access-control-allow-origin" not in other.headers, path


def test_the_origins_setting_is_comma_separated_and_may_be_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", "x" * 32)
    assert GatewaySettings().cors_origins == ["*"]
    monkeypatch.setenv("DOCSTREAM_GATEWAY_CORS_ORIGINS", "https://a.example, https://b.example")
    assert GatewaySettings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("DOCSTREAM_GATEWAY_CORS_ORIGINS", "")
    assert GatewaySettings().cors_origins == []
