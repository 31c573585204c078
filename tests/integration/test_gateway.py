"""The gateway on the real stack, two instances side by side: order and completeness on each,
resume (mid-document, after the end, on the user stream, over SSE), slow clients, caps, auth,
client messages."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.launcher import Stack
from shared.events import (
    AcceptedData,
    DocumentAccepted,
    DocumentCompleted,
    ExtractionProgressed,
    ExtractionStarted,
    ProgressData,
    StageData,
    encode,
)
from shared.ids import new_document_id
from tests.integration.client import Pipeline, events_of, stream
from tests.integration.conftest import pipeline_config

pytestmark = pytest.mark.integration

WAIT_S = 1.5  # the gateway's unknown_document_wait_s here
PING_S = 5.0  # its ping interval: a client silent for two of them is closed


@pytest.fixture(scope="module")
def gateways(infra: Stack) -> Iterator[tuple[Pipeline, Stack]]:
    cfg = pipeline_config(
        infra,
        DOCSTREAM_EXTRACTOR_TEST_HOOKS="1",
        DOCSTREAM_GATEWAY_UNKNOWN_DOCUMENT_WAIT_S=str(WAIT_S),
        DOCSTREAM_GATEWAY_CLIENT_QUEUE_SIZE="64",
        DOCSTREAM_GATEWAY_PING_INTERVAL_S=str(PING_S),
        DOCSTREAM_GATEWAY_MAX_CONNECTIONS_PER_USER="3",
        DOCSTREAM_GATEWAY_MAX_CONNECTIONS="6",
    )
    cfg.replicas = {"gateway": 2}
    stack = Stack(cfg)
    try:
        asyncio.run(_start(stack))
        yield Pipeline(stack.cfg), stack
    finally:
        stack.stop()


async def _start(stack: Stack) -> None:
    await stack.start_services()
    await stack.wait_consumers_ready()


def _urls(stack: Stack) -> list[str]:
    return [f"ws://127.0.0.1:{inst.port}" for inst in stack.instances["gateway"]]


def _url(base: str, path: str, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"{base}{path}" + (f"?{query}" if query else "")


async def _topic_events(pipeline: Pipeline, document_id: str) -> list[dict[str, Any]]:
    """Every event of the document as documents.events holds it (the truth to compare with)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=pipeline.cfg.bootstrap, group_id=None)
    await consumer.start()
    try:
        topic = pipeline.cfg.topics.events
        tps = [TopicPartition(topic, p) for p in range(pipeline.cfg.topic_partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[dict[str, Any]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if record.key == document_id.encode():
                        event = json.loads(record.value or b"")
                        event["_offset"] = record.offset
                        found.append(event)
        return found
    finally:
        await consumer.stop()


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


def _terminal(message: dict[str, Any]) -> bool:
    return message.get("type") == "event" and message["event"]["type"] == "document.completed"


async def test_each_of_two_gateways_delivers_a_document_in_order_and_complete(
    gateways: tuple[Pipeline, Stack], corpus: Path
) -> None:
    pipeline, stack = gateways
    urls = _urls(stack)
    assert len(urls) == 2
    response = await pipeline.upload(corpus / "pdf/federal-register-2020-17221.pdf", "alice")
    document_id = response.json()["id"]
    token = pipeline.token("alice")
    sessions = await asyncio.gather(
        *(stream(_url(u, f"/ws/documents/{document_id}", token=token)) for u in urls)
    )
    truth = await _topic_events(pipeline, document_id)
    for messages, close_code in sessions:
        assert close_code == 1000
        assert messages[0]["type"] == "snapshot"
        snapshot = messages[0]["document"]
        after = snapshot["position"]["offset"] if snapshot else -1
        expected = [e for e in truth if e["_offset"] > after]
        assert _ids(events_of(messages)) == _ids(expected)
        assert expected[-1]["type"] == "document.completed"


async def test_resume_mid_document_and_after_it_finished_gives_exactly_the_rest(
    gateways: tuple[Pipeline, Stack], corpus: Path
) -> None:
    pipeline, stack = gateways
    first, second = _urls(stack)
    token = pipeline.token("alice")
    # Processed, not linked: alice uploaded these bytes in the first test, and once its fold
    # had finished, this copy was accepted and completed at once, with no middle to hang up in
    # (and no event to resume from after the end below).
    response = await pipeline.upload(
        corpus / "pdf/federal-register-2020-17221.pdf", "alice", fields={"duplicates": "process"}
    )
    document_id = response.json()["id"]
    assert "duplicate_of" not in response.json()
    path = f"/ws/documents/{document_id}"
    # Hang up after the second event, resume at once on the other instance.
    before, _ = await stream(
        _url(first, path, token=token),
        stop=lambda m: m["type"] == "event" and m["event"]["type"] != "document.accepted",
    )
    cursor = before[-1]["cursor"]
    # Until the document ends: a 15-page PDF with its analysis, on a busy machine
    rest, close_code = await stream(_url(second, path, token=token, after=cursor), timeout_s=180)
    assert close_code == 1000
    truth = await _topic_events(pipeline, document_id)
    snapshot = before[0]["document"]
    after = snapshot["position"]["offset"] if snapshot else -1
    expected = _ids([e for e in truth if e["_offset"] > after])
    assert _ids(events_of(before)) + _ids(events_of(rest)) == expected
    assert "snapshot" not in {m["type"] for m in rest}  # a resume sends only what was missed

    await pipeline.wait_for_status(document_id, "alice", {"completed"})
    # After the end, on a freshly started instance (nothing in memory): the read model's log
    # says which records; Kafka gives them.
    await stack.stop_process("gateway-2")
    await stack.start_process("gateway-2")
    later, close_code = await stream(_url(second, path, token=token, after=cursor), timeout_s=60)
    assert close_code == 1000
    assert _ids(events_of(later)) == _ids(events_of(rest))
    done, close_code = await stream(
        _url(second, path, token=token, after=later[-1]["cursor"]), timeout_s=30
    )
    assert (done, close_code) == ([], 1000)  # nothing missed: closed at once


async def test_a_resume_after_the_end_closes_at_once_while_the_fold_lags(
    gateways: tuple[Pipeline, Stack],
) -> None:
    """The client had the terminal event, the read model has not folded it yet: the resume
    must close (1000), not wait for a live end that came and went (issue 12). A copy of a
    finished document ends the moment it is accepted, so it is the sharpest case."""
    pipeline, stack = gateways
    first, second = _urls(stack)
    token = pipeline.token("dora")
    data = f"a short note, {new_document_id()}\n".encode()
    original = (await pipeline.upload(None, "dora", data=data, filename="note.txt")).json()["id"]
    await pipeline.wait_for_status(original, "dora", {"completed"})
    await stack.stop_process("status")  # the fold lags as far as it can
    try:
        copy = (await pipeline.upload(None, "dora", data=data, filename="note.txt")).json()
        assert copy["duplicate_of"] == original  # linked: accepted and completed at once
        path = f"/ws/documents/{copy['id']}"
        before, close_code = await stream(_url(first, path, token=token), timeout_s=30)
        assert close_code == 1000 and _terminal(before[-1])
        rest, close_code = await stream(
            _url(second, path, token=token, after=before[-1]["cursor"]), timeout_s=3 * PING_S
        )
        assert (rest, close_code) == ([], 1000)
    finally:
        await stack.start_process("status")
        await stack.wait_ready("status")


async def test_the_user_stream_sees_new_documents_and_resumes_over_websocket_and_sse(
    gateways: tuple[Pipeline, Stack], corpus: Path
) -> None:
    pipeline, stack = gateways
    first, second = _urls(stack)
    token = pipeline.token("carol")
    messages: list[dict[str, Any]] = []
    connected = asyncio.Event()

    async def watch() -> int | None:
        # The list grows while the task runs, so the caller sees the ready message.
        async with websockets.connect(_url(first, "/ws/documents", token=token)) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                messages.append(message)
                connected.set()
                if _terminal(message):
                    break
        return ws.close_code

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(connected.wait(), 10)
    assert messages[0]["type"] == "ready"
    # Created after the stream connected; dave's document is not carol's business.
    await pipeline.upload(None, "dave", data=b"dave's notes\n" * 20, filename="d.txt")
    response = await pipeline.upload(corpus / "pdf/scotus-transcript-p1.pdf", "carol")
    document_id = response.json()["id"]
    await asyncio.wait_for(watcher, 60)
    live = events_of(messages)
    assert {e["subject"] for e in live} == {document_id}
    assert live[0]["type"] == "document.accepted"
    truth = await _topic_events(pipeline, document_id)
    assert _ids(live) == _ids(truth)

    # The same events again from the ready cursor, on the other instance (read from Kafka).
    ready = messages[0]["cursor"]
    again, _ = await stream(
        _url(second, "/ws/documents", token=token, after=ready), stop=_terminal, timeout_s=30
    )
    assert again[0]["type"] == "ready"
    assert _ids(events_of(again)) == _ids(live)

    # And over SSE, resuming with Last-Event-ID from the middle.
    middle = messages[3]["cursor"]
    sse = await _sse(
        f"http://127.0.0.1:{stack.instances['gateway'][1].port}/v1/stream",
        headers={"Authorization": f"Bearer {token}", "Last-Event-ID": middle},
    )
    assert sse[0][0] == "ready"
    sse_events = [json.loads(data)["event"] for name, data, _ in sse if name == "event"]
    assert _ids(sse_events) == _ids(live[3:])
    assert all(cursor for name, _, cursor in sse if name == "event")


async def _sse(url: str, headers: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """SSE events (name, data, id) until document.completed."""
    found: list[tuple[str, str, str | None]] = []
    name, data, event_id = "message", "", None
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line == "" and data:
                found.append((name, data, event_id))
                if name == "event" and json.loads(data)["event"]["type"] == "document.completed":
                    break
                name, data, event_id = "message", "", None
    return found


async def _produce(pipeline: Pipeline, events: list[Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.cfg.bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(pipeline.cfg.topics.events, encode(e), key=e.subject.encode())
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _accepted(document_id: str, owner: str) -> DocumentAccepted:
    data = AcceptedData(filename="x.pdf", size=1, sha256="0" * 64)
    return DocumentAccepted(
        source="/test", subject=document_id, owner=owner, generation=1, data=data
    )


def _progress(document_id: str, owner: str, done: int, *, pad: int = 0) -> ExtractionProgressed:
    # ``pad`` makes events big, so the gateway's socket to a stalled client fills whatever
    # size the kernel grows its buffers to.
    data = ProgressData(stage="extraction", done=done, total=100_000, unit="page" + " " * pad)
    return ExtractionProgressed(
        source="/test", subject=document_id, owner=owner, generation=1, data=data
    )


def _completed(document_id: str, owner: str) -> DocumentCompleted:
    return DocumentCompleted(source="/test", subject=document_id, owner=owner, generation=1)


async def _stalled_client(url: str) -> websockets.ClientConnection:
    """A client that reads nothing for now, with a tiny receive window, so the gateway's
    socket to it fills at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock.connect((host, int(port)))
    return await websockets.connect(url, sock=sock, max_queue=1)


async def test_auth_and_not_found_answer_alike(
    gateways: tuple[Pipeline, Stack], corpus: Path
) -> None:
    pipeline, stack = gateways
    base = _urls(stack)[1]
    response = await pipeline.upload(corpus / "pdf/scotus-transcript-p1.pdf", "erin")
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "erin", {"completed"})
    path = f"/ws/documents/{document_id}"

    assert (await stream(_url(base, path)))[1] == 4401
    bad, code = await stream(_url(base, path, token="ds1.erin.0.forged"))
    assert (bad, code) == ([{"type": "error", "reason": "bad_signature"}], 4401)

    timings = {}
    for label, url in {
        "other": _url(base, path, token=pipeline.token("mallory")),
        "unknown": _url(
            base, f"/ws/documents/{new_document_id()}", token=pipeline.token("mallory")
        ),
    }.items():
        started = time.monotonic()
        messages, code = await stream(url)
        timings[label] = time.monotonic() - started
        assert (messages, code) == ([{"type": "error", "reason": "not_found"}], 4404)
    assert timings["other"] >= WAIT_S
    assert abs(timings["other"] - timings["unknown"]) < 0.5

    async with httpx.AsyncClient(timeout=10) as client:
        sse_url = f"http://127.0.0.1:{stack.instances['gateway'][1].port}"
        no_token = await client.get(f"{sse_url}/v1/documents/{document_id}/stream")
        assert no_token.status_code == 401
        other = await client.get(
            f"{sse_url}/v1/documents/{document_id}/stream", headers=pipeline.headers("mallory")
        )
        assert other.status_code == 404
        finished = await client.get(
            f"{sse_url}/v1/documents/{document_id}/stream?token={pipeline.token('erin')}"
        )
        assert finished.status_code == 200
        assert "event: snapshot" in finished.text and '"code": 1000' in finished.text
        deleted = await client.delete(
            f"{pipeline.api}/v1/documents/{document_id}", headers=pipeline.headers("erin")
        )
        assert deleted.status_code in (202, 204)
    deadline = time.monotonic() + 20
    while True:  # the delete reaches the read model a moment later
        messages, code = await stream(_url(base, path, token=pipeline.token("erin")))
        if code == 4404 or time.monotonic() > deadline:
            break
    assert (messages, code) == ([{"type": "error", "reason": "not_found"}], 4404)


async def test_connection_caps_per_user_and_per_gateway(gateways: tuple[Pipeline, Stack]) -> None:
    pipeline, stack = gateways
    base = _urls(stack)[0]
    held: list[websockets.ClientConnection] = []
    try:
        for owner in ("cap1", "cap1", "cap1"):
            held.append(
                await websockets.connect(_url(base, "/ws/documents", token=pipeline.token(owner)))
            )
        fourth, code = await stream(_url(base, "/ws/documents", token=pipeline.token("cap1")))
        assert (fourth, code) == ([{"type": "error", "reason": "too_many_connections"}], 4429)
        for owner in ("cap2", "cap2", "cap2"):
            held.append(
                await websockets.connect(_url(base, "/ws/documents", token=pipeline.token(owner)))
            )
        full, code = await stream(_url(base, "/ws/documents", token=pipeline.token("cap3")))
        assert (full, code) == ([{"type": "error", "reason": "gateway_full"}], 4503)
        # The other instance has room: any instance serves any client.
        other, _ = await stream(
            _url(_urls(stack)[1], "/ws/documents", token=pipeline.token("cap3")),
            stop=lambda m: m["type"] == "ready",
        )
        assert other[0]["type"] == "ready"
    finally:
        for ws in held:
            await ws.close()


async def test_client_messages_ping_cancel_and_a_silent_client_is_closed(
    gateways: tuple[Pipeline, Stack],
) -> None:
    pipeline, stack = gateways
    base = _urls(stack)[0]
    response = await pipeline.upload(
        None, "frank", data=b"DOCSTREAM-TEST-HOOK sleep 60\n", filename="stuck.txt"
    )
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "frank", {"extracting"}, timeout_s=30)
    messages, code = await stream(
        _url(base, f"/ws/documents/{document_id}", token=pipeline.token("frank")),
        send=[{"type": "ping"}, {"type": "cancel"}],
        timeout_s=30,
    )
    assert code == 1000
    kinds = [m["type"] for m in messages]
    assert "pong" in kinds
    assert {"type": "cancel_requested", "document_id": document_id} in messages
    assert events_of(messages)[-1]["type"] == "document.cancelled"

    # A client that never answers the server's ping is closed as dead.
    started = time.monotonic()
    silent, code = await stream(
        _url(base, "/ws/documents", token=pipeline.token("frank")),
        answer_pings=False,
        timeout_s=4 * PING_S,
    )
    assert code == 4408
    assert silent[-2:] == [{"type": "ping"}, {"type": "error", "reason": "ping_timeout"}]
    assert 2 * PING_S <= time.monotonic() - started < 3 * PING_S + 1


async def test_a_slow_client_is_coalesced_and_its_neighbour_not_delayed(
    gateways: tuple[Pipeline, Stack],
) -> None:
    pipeline, stack = gateways
    base = _urls(stack)[0]
    slow_doc, fast_doc = new_document_id(), new_document_id()
    slow = await _stalled_client(_url(base, "/ws/documents", token=pipeline.token("slow")))
    fast_messages: list[tuple[float, dict[str, Any]]] = []

    async def fast_reader() -> None:
        async with websockets.connect(
            _url(base, "/ws/documents", token=pipeline.token("fast"))
        ) as ws:
            async for raw in ws:
                message = json.loads(raw)
                fast_messages.append((time.monotonic(), message))
                if _terminal(message):
                    return

    reader = asyncio.create_task(fast_reader())
    await asyncio.sleep(0.5)
    flood = [_progress(slow_doc, "slow", i, pad=4000) for i in range(1, 3001)]
    await _produce(pipeline, [_accepted(slow_doc, "slow"), *flood, _completed(slow_doc, "slow")])
    sent_at = time.monotonic()
    await _produce(pipeline, [_accepted(fast_doc, "fast"), _completed(fast_doc, "fast")])
    await asyncio.wait_for(reader, 10)
    fast_done_at = fast_messages[-1][0]
    assert fast_done_at - sent_at < 1.0, "the fast client waited on the slow one"

    await asyncio.sleep(1.0)  # the slow client wakes up at last
    received: list[dict[str, Any]] = []
    async for raw in slow:
        message = json.loads(raw)
        received.append(message)
        if _terminal(message):
            break
    await slow.close()
    types = [e["type"] for e in events_of(received)]
    assert types[0] == "document.accepted"
    assert types[-1] == "document.completed"
    assert len(types) < 3002, "nothing was coalesced"
    done = [e["data"]["done"] for e in events_of(received) if e["type"].endswith("progressed")]
    assert done == sorted(done)


async def test_a_client_that_cannot_keep_up_at_all_is_closed_as_too_slow(
    gateways: tuple[Pipeline, Stack],
) -> None:
    pipeline, stack = gateways
    base = _urls(stack)[0]
    slow = await _stalled_client(_url(base, "/ws/documents", token=pipeline.token("flood")))
    await asyncio.sleep(0.3)
    # Lifecycle events only: none may be dropped, so the queue cannot coalesce (big ones, and
    # of one document, so the status fold has little to do).
    document_id = new_document_id()
    data = StageData.model_validate({"stage": "extraction", "note": " " * 4000})
    started = [
        ExtractionStarted(
            source="/test", subject=document_id, owner="flood", generation=1, data=data
        )
        for _ in range(3000)
    ]
    await _produce(pipeline, started)
    await asyncio.sleep(1.0)
    last: dict[str, Any] = {}
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(30):
            async for raw in slow:
                last = json.loads(raw)
    assert slow.close_code == 4008
    assert last == {"type": "error", "reason": "too_slow"}
