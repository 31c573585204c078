"""The gateway's HTTP errors outside the stream routes are problem documents with a
``reason``, like ingest's, not FastAPI's ``{"detail": ...}``."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import Gateway


async def test_an_unknown_path_and_a_wrong_method_are_problem_documents(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.http, timeout=10) as client:
        for method, path, status, reason in [
            ("GET", "/nowhere", 404, "not_found"),
            ("GET", "/ws/documents", 404, "not_found"),  # a WebSocket route, asked over HTTP
            ("POST", "/v1/stream", 405, "method_not_allowed"),
            ("DELETE", "/healthz", 405, "method_not_allowed"),
        ]:
            answer = await client.request(method, path)
            assert answer.status_code == status, path
            assert answer.headers["content-type"] == "application/problem+json", path
            body = answer.json()
            assert body["reason"] == reason and body["status"] == status, path
            assert body["type"] == f"https://docstream.dev/problems/{reason}"
            if status == 405:
                assert answer.headers["allow"] == "GET", path
