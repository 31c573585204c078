"""Real receivers' habits, each served on 127.0.0.1 by a small server of its own: what one
attempt makes of them (services/webhooks/sender.py)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from services.webhooks.delivery import pause_before
from services.webhooks.sender import Result, Sender, new_client, retry_after_s
from shared.webhooks import new_secret, parse_networks
from tests.webhooks.receiver import Receiver

LOOPBACK = parse_networks("127.0.0.0/8")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A raw HTTP/1.1 receiver; its URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hook"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def answering(status: int, headers: str = "", body: bytes = b"") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n{headers}\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    return handle


async def post(url: str, timeout_s: float = 5.0) -> tuple[float, Result]:
    async with new_client(timeout_s) as http:
        started = time.monotonic()
        result = await Sender(http, LOOPBACK, timeout_s).post(url, new_secret(), "m", b"{}")
    return time.monotonic() - started, result


async def test_an_answer_trickling_in_is_timed_out_at_the_attempts_limit() -> None:
    # Headers a line every 0.1 s: every read is quick, the answer never done in time.
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for _ in range(50):
                writer.write(b"x-a: b\r\n")
                await writer.drain()
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        writer.close()

    async with serving(trickle) as url:
        took, result = await post(url, timeout_s=0.5)
    assert took < 1.5
    assert (result.ok, result.label, result.error) == (False, "timeout", "timed out")


async def test_a_receiver_that_never_answers_holds_up_no_other() -> None:
    # More hanging deliveries than httpx's default pool (100 connections for all hosts).
    stuck = asyncio.Event()

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await stuck.wait()
        writer.close()

    async with serving(hang) as slow, serving(answering(204)) as fast, new_client(3.0) as http:
        sender = Sender(http, LOOPBACK, 3.0)
        hung = [
            asyncio.create_task(sender.post(slow, new_secret(), "m", b"{}")) for _ in range(120)
        ]
        await asyncio.sleep(0.5)  # all of them connected and waiting
        started = time.monotonic()
        other = await sender.post(fast, new_secret(), "m", b"{}")
        took = time.monotonic() - started
        hanging = await asyncio.gather(*hung)
        stuck.set()
    assert other.ok and took < 1.0
    assert all(r.label == "timeout" for r in hanging)  # and each was timed out


async def test_retry_after_is_read_in_seconds_and_as_an_http_date() -> None:
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    async with serving(answering(429, "retry-after: 7\r\n")) as url:
        _, seconds = await post(url)
    async with serving(answering(503, f"retry-after: {in_a_minute}\r\n")) as url:
        _, dated = await post(url)
    async with serving(answering(503, "retry-after: soon\r\n")) as url:
        _, unreadable = await post(url)
    async with serving(answering(500, "retry-after: 7\r\n")) as url:
        _, other = await post(url)
    assert (seconds.ok, seconds.status_code, seconds.retry_after_s) == (False, 429, 7.0)
    assert dated.retry_after_s is not None and 55 <= dated.retry_after_s <= 60
    assert unreadable.retry_after_s is None and other.retry_after_s is None
    assert retry_after_s(formatdate(time.time() - 60, usegmt=True)) == 0.0


def test_the_pause_honours_retry_after_within_the_backoffs_bound() -> None:
    for _ in range(50):
        assert 0 <= pause_before(1, None, base_s=5, max_s=600) <= 5
        assert 30 <= pause_before(1, 30.0, base_s=5, max_s=600) <= 30
        assert pause_before(1, 86400.0, base_s=5, max_s=600) == 600  # not a day
        assert 0 <= pause_before(4, 0.0, base_s=5, max_s=600) <= 40  # "now": the backoff


async def test_any_2xx_delivers_and_the_body_is_never_read() -> None:
    for status in (201, 202, 204):
        async with serving(answering(status)) as url:
            _, result = await post(url)
        assert (result.ok, result.status_code) == (True, status)
    # A huge, non-UTF-8 error body: the status alone counts, the error stays short.
    async with serving(answering(500, "", b"\xff\xfe" * 2_000_000)) as url:
        took, result = await post(url)
    assert (result.ok, result.error) == (False, "HTTP 500") and took < 1.0


async def test_a_redirect_is_not_followed() -> None:
    elsewhere: list[bytes] = []

    async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        elsewhere.append(await read_request(reader))
        writer.close()

    async with (
        serving(other) as target,
        serving(answering(307, f"location: {target}\r\n")) as url,
    ):
        _, result = await post(url)
    assert (result.ok, result.label, result.status_code) == (False, "3xx", 307)
    assert elsewhere == []


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([*request, *names], check=True, capture_output=True)
    return key, cert


async def test_a_certificate_not_trusted_is_a_clear_failure(
    self_signed: tuple[Path, Path],
) -> None:
    key, cert = self_signed
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    server = await asyncio.start_server(answering(200), "127.0.0.1", 0, ssl=tls)
    async with server:
        port = server.sockets[0].getsockname()[1]
        _, result = await post(f"https://127.0.0.1:{port}/hook")
    assert (result.ok, result.label) == (False, "error")
    assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error


async def test_the_readmes_verify_accepts_a_delivery_and_refuses_a_forgery() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    snippet = readme.split("by hand:\n\n```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # the README's own code
    verify = scope["verify"]
    secret = new_secret()
    rx = Receiver()
    await rx.start()
    try:
        async with new_client(5.0) as http:
            result = await Sender(http, LOOPBACK).post(rx.url("/h"), secret, "msg_1", b'{"a":1}')
    finally:
        await rx.stop()
    [got] = rx.received
    assert result.ok
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= got.headers.keys()
    assert got.headers["webhook-id"] == "msg_1"
    assert verify(secret, got.headers, got.body)
    assert not verify(secret, got.headers, got.body + b" ")
    assert not verify(new_secret(), got.headers, got.body)
