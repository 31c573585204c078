"""One delivery attempt against a receiver on 127.0.0.1: signed, refused unless allowed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from services.webhooks.delivery import notice_of
from services.webhooks.sender import Sender
from shared.events import DocumentCompleted, DocumentFailed, ExtractionStarted, FailedData, encode
from shared.reasons import ReasonCode
from shared.webhooks import new_secret, parse_networks
from tests.webhooks.receiver import Receiver

LOOPBACK = parse_networks("127.0.0.0/8")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver(script={"/flaky": [503, 200]})
    await rx.start()
    yield rx
    await rx.stop()


async def test_a_post_is_signed_and_keeps_the_url_host(receiver: Receiver) -> None:
    secret = new_secret()
    receiver.secrets["/ok"] = secret
    async with httpx.AsyncClient(trust_env=False) as http:
        result = await Sender(http, LOOPBACK).post(receiver.url("/ok"), secret, "msg_1", b"{}")
    assert result.ok and result.status_code == 200 and result.label == "2xx"
    [got] = receiver.received
    assert got.signed
    assert got.headers["webhook-id"] == "msg_1"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"


async def test_a_failing_answer_is_a_failed_attempt_with_its_status(receiver: Receiver) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        sender = Sender(http, LOOPBACK)
        first = await sender.post(receiver.url("/flaky"), new_secret(), "m", b"{}")
        second = await sender.post(receiver.url("/flaky"), new_secret(), "m", b"{}")
    assert (first.ok, first.status_code, first.label) == (False, 503, "5xx")
    assert second.ok


async def test_loopback_is_refused_at_delivery_unless_allowed(receiver: Receiver) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        result = await Sender(http, ()).post(receiver.url("/ok"), new_secret(), "m", b"{}")
    assert not result.ok and result.label == "refused"
    assert result.error is not None and result.error.startswith("private_address")
    assert receiver.received == []  # nothing was sent


def test_only_the_three_outcomes_make_notices_and_failures_carry_their_reason() -> None:
    common = {"source": "/t", "subject": "doc1", "owner": "alice", "generation": 2}
    assert notice_of(encode(ExtractionStarted(**common))) is None
    assert notice_of(b"not json") is None
    done = notice_of(encode(DocumentCompleted(**common)))
    assert done is not None and done.owner == "alice"
    assert json.loads(done.body)["data"] == {
        "document_id": "doc1",
        "generation": 2,
        "status": "completed",
    }
    failed = DocumentFailed(
        **common, data=FailedData(stage="extraction", reason=ReasonCode.CORRUPT, message="bad")
    )
    notice = notice_of(encode(failed))
    assert notice is not None and notice.msg_id != done.msg_id
    assert json.loads(notice.body)["data"]["reason"] == "corrupt"
