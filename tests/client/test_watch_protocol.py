"""The client's side of the gateway's WebSocket protocol, against a small real WebSocket server
that plays the gateway: pings answered, dropped connections resumed, unexpected closes raised.

A watch must never end quietly before the document's terminal event: a caller would take the
document for finished (a CI run once saw a client's watch end 40 s in, at the gateway's
unanswered ping, with the document still being analysed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from docstream.client import ApiError, AsyncClient, Client, UnreachableError, WaitTimeoutError
from shared.events import DocumentCompleted, ExtractionStarted, encode
from tests.client.faults import blackhole

DOC = "0" * 31 + "1"
SNAPSHOT = '{"type":"snapshot","document":null}'
PING = '{"type":"ping"}'


def _frame(event: DocumentCompleted | ExtractionStarted, offset: int) -> str:
    return (
        f'{{"type":"event","cursor":"c{offset}","position":{{"partition":0,"offset":{offset}}},'
        f'"event":{encode(event).decode()}}}'
    )


STARTED = _frame(ExtractionStarted(source="/t", subject=DOC, owner="ann", generation=1), 1)
COMPLETED = _frame(DocumentCompleted(source="/t", subject=DOC, owner="ann", generation=1), 2)

Handler = Callable[[ServerConnection, int], None]


#: The path and query of each connection to the last :func:`gateway` started.
paths: list[str] = []


@contextmanager
def gateway(handler: Handler, refused: int = 0) -> Iterator[tuple[str, list[int]]]:
    """A WebSocket server on a free port; ``handler`` gets each connection and its number.
    After the first connection, the next ``refused`` handshakes are answered 503 (a gateway
    restarting behind a load balancer)."""
    connections: list[int] = []
    paths.clear()
    refusals = [refused]

    def refuse(conn: ServerConnection, request: Request) -> Response | None:
        if connections and refusals[0] > 0:
            refusals[0] -= 1
            return conn.respond(503, "restarting")
        return None

    def serve_one(conn: ServerConnection) -> None:
        connections.append(len(connections) + 1)
        assert conn.request is not None
        paths.append(conn.request.path)
        with suppress(ConnectionClosed):
            handler(conn, len(connections))

    with serve(serve_one, "127.0.0.1", 0, process_request=refuse) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        host, port = server.socket.getsockname()[:2]
        try:
            yield f"ws://{host}:{port}", connections
        finally:
            server.shutdown()
            thread.join(5)


def _pings_first(conn: ServerConnection, number: int) -> None:
    """As the gateway does on an idle connection: a ping, and no answer closes it (4408)."""
    conn.send(SNAPSHOT)
    conn.send(STARTED)
    conn.send(PING)
    try:
        conn.recv(timeout=2)
    except TimeoutError:
        conn.close(4408, "ping_timeout")
        return
    conn.send(COMPLETED)
    conn.close(1000, "done")


def _types(events: list[object]) -> list[str]:
    return [getattr(e, "type", "?") for e in events]


def test_the_sync_watch_answers_the_gateways_ping_and_sees_the_end() -> None:
    with gateway(_pings_first) as (url, connections), Client("http://x", "t", ws_url=url) as c:
        events = list(c.watch(DOC))
    assert _types(events) == ["extraction.started", "document.completed"]
    assert connections == [1]  # answered: never closed for a ping timeout


async def test_the_async_watch_answers_the_gateways_ping_and_sees_the_end() -> None:
    with gateway(_pings_first) as (url, connections):
        async with AsyncClient("http://x", "t", ws_url=url) as c:
            events = [e async for e in c.watch(DOC)]
    assert _types(events) == ["extraction.started", "document.completed"]
    assert connections == [1]


@pytest.mark.parametrize("code", [4408, 4008, 1001])
def test_a_connection_dropped_before_the_end_is_resumed_and_repeats_are_skipped(
    code: int,
) -> None:
    def handler(conn: ServerConnection, number: int) -> None:
        conn.send(SNAPSHOT)
        conn.send(STARTED)  # given on both connections, yielded once
        if number == 1:
            conn.close(code, "dropped")
            return
        conn.send(COMPLETED)
        conn.close(1000, "done")

    with gateway(handler) as (url, connections), Client("http://x", "t", ws_url=url) as c:
        events = list(c.watch(DOC))
    assert _types(events) == ["extraction.started", "document.completed"]
    assert connections == [1, 2]
    # From the cursor of the last message it had: the gateway sends what it missed.
    assert paths == [f"/ws/documents/{DOC}", f"/ws/documents/{DOC}?after=c1"]


async def test_a_resumed_watch_keeps_its_generation_and_the_latest_cursor() -> None:
    def handler(conn: ServerConnection, number: int) -> None:
        if number == 1:
            conn.send('{"type":"snapshot","document":{"status":"extracting"},"cursor":"c0"}')
            conn.close(1012, "")
        elif number == 2:
            conn.send(STARTED)
            conn.close(4000, "reconnect")
        else:
            conn.send(COMPLETED)
            conn.close(1000, "done")

    with gateway(handler) as (url, connections):
        async with AsyncClient("http://x", "t", ws_url=url) as c:
            events = [e async for e in c.watch(DOC, generation=1)]
    assert connections == [1, 2, 3]
    assert _types(events) == ["extraction.started", "document.completed"]
    base = f"/ws/documents/{DOC}?generation=1"
    assert paths == [base, f"{base}&after=c0", f"{base}&after=c1"]


def test_a_close_1000_after_some_events_but_not_the_end_is_an_error() -> None:
    def handler(conn: ServerConnection, number: int) -> None:
        conn.send(SNAPSHOT)
        conn.send(STARTED)
        conn.close(1000, "done")

    with gateway(handler) as (url, _), Client("http://x", "t", ws_url=url) as c:
        events = c.watch(DOC)
        assert next(events).type == "extraction.started"
        with pytest.raises(ApiError) as early:
            next(events)
    assert (early.value.status, early.value.reason) == (502, "ended_early")


def test_a_watch_of_a_finished_document_ends_at_once_with_no_events() -> None:
    def handler(conn: ServerConnection, number: int) -> None:
        conn.send('{"type":"snapshot","document":{"status":"completed"},"cursor":"c9"}')
        conn.close(1000, "done")

    with gateway(handler) as (url, connections), Client("http://x", "t", ws_url=url) as c:
        assert list(c.watch(DOC)) == []
    assert connections == [1]


@pytest.mark.parametrize(("code", "reason", "status"), [(4429, "user_limit", 429), (4503, "", 503)])
async def test_any_other_close_before_the_end_raises_with_its_reason(
    code: int, reason: str, status: int
) -> None:
    def handler(conn: ServerConnection, number: int) -> None:
        conn.close(code, reason)

    with gateway(handler) as (url, _):
        async with AsyncClient("http://x", "t", ws_url=url) as c:
            with pytest.raises(ApiError) as refused:
                [e async for e in c.watch(DOC)]
    assert refused.value.status == status
    assert refused.value.reason == (reason or f"closed_{code}")
    assert refused.value.problem["close_code"] == code


# A gateway that cannot be reached is not a wait that ran out of time: the CLI exits 6 for
# the one, 8 for the other (a black-holed gateway once made `docstream watch` say "not
# finished in time" after 31 s, with --timeout at an hour).


def test_a_gateway_that_never_answers_is_unreachable_not_a_wait_timeout() -> None:
    with blackhole() as url, Client("http://x", "t", ws_url=url, timeout_s=0.5) as c:
        started = time.monotonic()
        with pytest.raises(UnreachableError) as unreachable:
            c.wait(DOC, timeout_s=30)
    assert not isinstance(unreachable.value, WaitTimeoutError)
    assert isinstance(unreachable.value, ConnectionError)
    assert time.monotonic() - started < 5  # the client's timeout, not the wait's
    assert unreachable.value.url == f"{url}/ws/documents/{DOC}"


async def test_the_async_wait_on_a_gateway_that_never_answers_is_unreachable_too() -> None:
    with blackhole() as url:
        async with AsyncClient("http://x", "t", ws_url=url, timeout_s=0.5) as c:
            started = time.monotonic()
            with pytest.raises(UnreachableError) as unreachable:
                await c.wait(DOC, timeout_s=30)
    assert not isinstance(unreachable.value, WaitTimeoutError)
    assert time.monotonic() - started < 5


def _silent(conn: ServerConnection, number: int) -> None:
    """A document still being processed: a snapshot, then nothing for a while."""
    conn.send('{"type":"snapshot","document":{"status":"extracting"},"cursor":"c0"}')
    with suppress(TimeoutError):
        conn.recv(timeout=5)


def test_only_the_waits_own_timeout_is_a_wait_timeout() -> None:
    with (
        gateway(_silent) as (url, _),
        Client("http://x", "t", ws_url=url, timeout_s=30) as c,
        pytest.raises(WaitTimeoutError),
    ):
        c.wait(DOC, timeout_s=0.5)
    with blackhole() as url, Client("http://x", "t", ws_url=url, timeout_s=30) as c:
        started = time.monotonic()
        with pytest.raises(WaitTimeoutError):  # its deadline passed while connecting
            c.wait(DOC, timeout_s=0.5)
        assert time.monotonic() - started < 5


async def test_the_async_waits_own_timeout_is_a_wait_timeout() -> None:
    with gateway(_silent) as (url, _):
        async with AsyncClient("http://x", "t", ws_url=url, timeout_s=30) as c:
            with pytest.raises(WaitTimeoutError):
                await c.wait(DOC, timeout_s=0.5)


def _restarting(conn: ServerConnection, number: int) -> None:
    conn.send(SNAPSHOT)
    if number == 1:
        conn.send(STARTED)
        conn.close(1012, "")  # the gateway restarts; refuses a moment, then is back
        return
    conn.send(COMPLETED)
    conn.close(1000, "done")


def test_a_reconnection_refused_for_a_moment_is_retried() -> None:
    with (
        gateway(_restarting, refused=2) as (url, connections),
        Client("http://x", "t", ws_url=url, timeout_s=10) as c,
    ):
        events = list(c.watch(DOC))
    assert _types(events) == ["extraction.started", "document.completed"]
    assert connections == [1, 2]


async def test_the_async_watch_retries_a_refused_reconnection_until_its_timeout() -> None:
    with gateway(_restarting, refused=1) as (url, connections):
        async with AsyncClient("http://x", "t", ws_url=url, timeout_s=10) as c:
            events = [e async for e in c.watch(DOC)]
    assert _types(events) == ["extraction.started", "document.completed"]
    with gateway(_restarting, refused=100) as (url, connections):
        async with AsyncClient("http://x", "t", ws_url=url, timeout_s=1) as c:
            watch = c.watch(DOC)
            assert (await anext(watch)).type == "extraction.started"
            started = time.monotonic()
            with pytest.raises(UnreachableError, match="503"):
                await anext(watch)
    assert 0.9 < time.monotonic() - started < 5
    assert connections == [1]
