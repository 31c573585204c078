"""410 Gone ends a delivery at once: dead-lettered after one attempt, not retried."""

from __future__ import annotations

import json
import uuid
from typing import Any

from services.webhooks.delivery import Deliverer, Notice
from services.webhooks.sender import Result
from services.webhooks.settings import WebhooksSettings

ENDPOINT = {"id": "wh_1", "url": "http://x.invalid/h", "secret": "whsec_", "events": ["e"]}
NOTICE = Notice("e", "doc1", 1, "olga", "msg_1", b"{}")


class Fakes:
    def __init__(self, answers: list[Result]) -> None:
        self.answers = answers
        self.posts = 0
        self.recorded: list[dict[str, Any]] = []
        self.dead: list[dict[str, Any]] = []

    async def post(self, *_: Any) -> Result:
        self.posts += 1
        return self.answers[min(self.posts, len(self.answers)) - 1]

    async def of(self, owner: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        return [ENDPOINT]

    async def record(self, endpoint_id: str, at: Any, attempt: dict[str, Any]) -> None:
        self.recorded.append(attempt)

    async def dead_letter(self, topic: str, key: Any, value: bytes, **_: Any) -> None:
        self.dead.append(json.loads(value))


def deliverer(fakes: Fakes) -> Deliverer:
    settings = WebhooksSettings(
        auth_secret=uuid.uuid4().hex, attempts=4, backoff_base_s=0.001, backoff_max_s=0.001
    )
    d = Deliverer(settings, lambda: None, fakes, fakes)  # type: ignore[arg-type]
    d.registrations = d.attempt_log = fakes  # type: ignore[assignment]
    return d


async def test_410_is_dead_lettered_after_one_attempt() -> None:
    fakes = Fakes([Result(False, "4xx", 410, "HTTP 410", 0.01)])
    await deliverer(fakes).deliver(NOTICE, 0, 7)
    assert fakes.posts == 1
    assert [a["outcome"] for a in fakes.recorded] == ["dead_lettered"]
    assert [d["attempts"] for d in fakes.dead] == [1]


async def test_other_failures_are_retried_and_the_dead_letter_counts_the_attempts() -> None:
    fakes = Fakes([Result(False, "4xx", 404, "HTTP 404", 0.01)])
    await deliverer(fakes).deliver(NOTICE, 0, 7)
    assert fakes.posts == 4
    assert [a["outcome"] for a in fakes.recorded] == ["retrying"] * 3 + ["dead_lettered"]
    assert [d["attempts"] for d in fakes.dead] == [4]
