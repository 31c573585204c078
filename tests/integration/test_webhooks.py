"""Webhooks on the real pipeline: signed deliveries to a receiver on 127.0.0.1, retries that
end in a delivery, retries that end in a dead letter, refusals, and other users' endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.launcher import Stack
from shared.webhooks import ATTEMPT_DAYS, CATCH_UP_DAYS, WEBHOOK_ATTEMPTS, attempts_id
from tests.integration.client import Pipeline, read_topic
from tests.integration.conftest import pipeline_config
from tests.webhooks.receiver import Receiver, as_json

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hooks_pipeline(infra: Stack) -> Iterator[Pipeline]:
    # Loopback allowed (the receiver is on 127.0.0.1), 10.0.0.0/8 and the rest still refused;
    # three attempts a fraction of a second apart.
    stack = Stack(
        pipeline_config(
            infra,
            DOCSTREAM_WEBHOOKS_ALLOWED_NETWORKS="127.0.0.0/8,::1/128",
            DOCSTREAM_WEBHOOKS_ATTEMPTS="3",
            DOCSTREAM_WEBHOOKS_BACKOFF_BASE_S="0.2",
            DOCSTREAM_WEBHOOKS_BACKOFF_MAX_S="0.5",
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


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver(script={"/flaky": [500, 500, 200], "/down": [503]})
    await rx.start()
    yield rx
    await rx.stop()


async def _call(
    pipeline: Pipeline, method: str, path: str, owner: str, **kwargs: Any
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.request(
            method, f"{pipeline.api}{path}", headers=pipeline.headers(owner), **kwargs
        )


async def _register(
    pipeline: Pipeline, receiver: Receiver, owner: str, path: str, events: list[str]
) -> str:
    response = await _call(
        pipeline, "POST", "/v1/webhooks", owner, json={"url": receiver.url(path), "events": events}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets[path] = body["secret"]
    return str(body["id"])


async def _until(check: Any, timeout_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _attempts(pipeline: Pipeline, owner: str, hook: str) -> list[dict[str, Any]]:
    response = await _call(pipeline, "GET", f"/v1/webhooks/{hook}/attempts", owner)
    assert response.status_code == 200
    return list(response.json()["items"])


async def test_deliveries_are_signed_retried_and_dead_lettered(
    hooks_pipeline: Pipeline, receiver: Receiver, corpus: Path
) -> None:
    pipeline = hooks_pipeline
    owner = "hooks-alice"
    ok = await _register(
        pipeline, receiver, owner, "/ok", ["document.completed", "document.failed"]
    )
    flaky = await _register(pipeline, receiver, owner, "/flaky", ["document.completed"])
    down = await _register(pipeline, receiver, owner, "/down", ["document.completed"])
    listed = await _call(pipeline, "GET", "/v1/webhooks", owner)
    assert {h["id"] for h in listed.json()["items"]} == {ok, flaky, down}
    assert all("secret" not in h for h in listed.json()["items"])

    upload = await pipeline.upload(corpus / "pdf/issue-33-lorem-ipsum.pdf", owner)
    document_id = upload.json()["id"]
    await pipeline.wait_for_status(document_id, owner, {"completed"})
    await _until(lambda: len(receiver.at("/flaky")) == 3 and len(receiver.at("/down")) == 3)
    await _until(lambda: len(receiver.at("/ok")) == 1)

    [delivered] = receiver.at("/ok")
    assert delivered.signed
    assert as_json(delivered)["type"] == "document.completed"
    assert as_json(delivered)["data"]["document_id"] == document_id
    # One message id per outcome: every attempt, to every endpoint, carries the same.
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1
    assert all(r.signed for r in receiver.received)

    flaky_attempts = await _attempts(pipeline, owner, flaky)
    assert [a["attempt"] for a in flaky_attempts] == [3, 2, 1]
    assert [a["outcome"] for a in flaky_attempts] == ["delivered", "retrying", "retrying"]
    assert [a["status_code"] for a in flaky_attempts] == [200, 500, 500]

    down_attempts = await _attempts(pipeline, owner, down)
    assert [a["outcome"] for a in down_attempts] == ["dead_lettered", "retrying", "retrying"]
    assert {a["document_id"] for a in down_attempts} == {document_id}
    parked = await read_topic(
        pipeline.cfg, pipeline.cfg.topics.webhooks_dead_letter, lambda records: len(records) >= 1
    )
    assert len(parked) == 1
    letter = json.loads(parked[0].value or b"{}")
    assert letter["endpoint_id"] == down
    assert letter["body"]["data"]["document_id"] == document_id
    # The document itself is not affected by its webhooks.
    doc = (await pipeline.get(document_id, owner)).json()
    assert doc["status"] == "completed"

    # A failed document: only the endpoint that asked for failures hears of it, with the reason.
    broken = await pipeline.upload(
        None, owner, data=b"%PDF-1.7\n" + b"\x00garbage" * 50, filename="broken.pdf"
    )
    await pipeline.wait_for_status(broken.json()["id"], owner, {"failed"})
    await _until(lambda: len(receiver.at("/ok")) == 2)
    failure = as_json(receiver.at("/ok")[1])
    assert failure["type"] == "document.failed"
    assert failure["data"]["reason"] == "corrupt"
    await asyncio.sleep(0.5)
    assert len(receiver.at("/flaky")) == 3 and len(receiver.at("/down")) == 3


@pytest.mark.parametrize(
    "url",
    ["http://10.1.2.3/hook", "http://169.254.169.254/latest", "http://[::ffff:192.168.0.1]/"],
)
async def test_private_addresses_are_refused_by_default(hooks_pipeline: Pipeline, url: str) -> None:
    response = await _call(
        hooks_pipeline,
        "POST",
        "/v1/webhooks",
        "hooks-bob",
        json={"url": url, "events": ["document.completed"]},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "private_address"


async def test_bad_registrations_are_422(hooks_pipeline: Pipeline) -> None:
    bad_event = await _call(
        hooks_pipeline,
        "POST",
        "/v1/webhooks",
        "hooks-bob",
        json={"url": "http://127.0.0.1:9/x", "events": ["document.accepted"]},
    )
    assert bad_event.status_code == 422
    assert bad_event.json()["reason"] == "invalid_request"
    bad_scheme = await _call(
        hooks_pipeline,
        "POST",
        "/v1/webhooks",
        "hooks-bob",
        json={"url": "file:///etc/passwd", "events": ["document.failed"]},
    )
    assert (bad_scheme.status_code, bad_scheme.json()["reason"]) == (422, "invalid_url")
    with_credentials = await _call(
        hooks_pipeline,
        "POST",
        "/v1/webhooks",
        "hooks-bob",
        json={"url": "http://user:pw@127.0.0.1:9/x", "events": ["document.failed"]},
    )
    assert with_credentials.json()["reason"] == "invalid_url"


async def test_another_users_webhook_is_404_and_deleting_ends_it(
    hooks_pipeline: Pipeline, receiver: Receiver
) -> None:
    hook = await _register(hooks_pipeline, receiver, "hooks-carol", "/ok", ["document.failed"])
    # Its record of attempts, as the webhooks service would have kept it: today's two buckets,
    # and one of a day far back (a pruner that was down): all go with the endpoint.
    cfg = hooks_pipeline.cfg
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cfg.mongo_url)
    stored = mongo[cfg.mongo_database][WEBHOOK_ATTEMPTS]
    today = datetime.now(UTC).date()
    far_back = today - timedelta(days=ATTEMPT_DAYS + CATCH_UP_DAYS - 1)
    kept = [attempts_id(hook, today), attempts_id(hook, today, 1), attempts_id(hook, far_back)]
    await stored.insert_many([{"_id": key, "attempts": [], "count": 0} for key in kept])
    for method, path in [
        ("GET", f"/v1/webhooks/{hook}"),
        ("GET", f"/v1/webhooks/{hook}/attempts"),
        ("DELETE", f"/v1/webhooks/{hook}"),
    ]:
        response = await _call(hooks_pipeline, method, path, "hooks-mallory")
        assert response.status_code == 404, (method, path)
        assert response.json()["reason"] == "not_found"
    mine = await _call(hooks_pipeline, "GET", f"/v1/webhooks/{hook}", "hooks-carol")
    assert mine.status_code == 200 and mine.json()["events"] == ["document.failed"]
    assert (
        await _call(hooks_pipeline, "DELETE", f"/v1/webhooks/{hook}", "hooks-carol")
    ).status_code == 204
    gone = await _call(hooks_pipeline, "GET", f"/v1/webhooks/{hook}", "hooks-carol")
    assert gone.status_code == 404
    listed = await _call(hooks_pipeline, "GET", "/v1/webhooks", "hooks-carol")
    assert listed.json()["items"] == []
    try:
        left = [await stored.find_one({"_id": key}) for key in kept]
        assert left == [None, None, None]
    finally:
        await mongo.close()
