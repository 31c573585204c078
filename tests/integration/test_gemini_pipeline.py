"""The analyzer with the Gemini provider, in the real pipeline, against a local Gemini stub."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from deploy.launcher import Stack
from tests.analyzer.gemini_stub import GeminiStub, analysis, error, ok, prompt_blocked
from tests.integration.client import Pipeline
from tests.integration.conftest import pipeline_config

pytestmark = pytest.mark.integration

TEXT = b"The committee approved the budget. Members praised the careful work of the staff.\n" * 20


@pytest.fixture(scope="module")
def stub() -> Iterator[GeminiStub]:
    with GeminiStub() as server:
        yield server


@pytest.fixture(scope="module")
def gemini_pipeline(infra: Stack, stub: GeminiStub) -> Iterator[Pipeline]:
    stack = Stack(
        pipeline_config(
            infra,
            DOCSTREAM_ANALYZER_GEMINI_API_KEY="test-key",
            DOCSTREAM_ANALYZER_GEMINI_BASE_URL=stub.base_url,
            DOCSTREAM_ANALYZER_MAX_ATTEMPTS="3",
            DOCSTREAM_ANALYZER_RETRY_BASE_S="0.05",
            DOCSTREAM_ANALYZER_RETRY_MAX_S="0.2",
        )
    )
    try:
        asyncio.run(_start(stack))
        yield Pipeline(stack.cfg)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def fresh_stub(stub: GeminiStub) -> None:
    stub.reset()


async def _start(stack: Stack) -> None:
    await stack.start_services()
    await stack.wait_consumers_ready()


async def _run(pipeline: Pipeline, stub: GeminiStub, statuses: set[str]) -> dict:  # type: ignore[type-arg]
    # The same bytes each time: processed again, not linked to the first copy's results.
    response = await pipeline.upload(
        None, "carol", data=TEXT, filename="minutes.txt", fields={"duplicates": "process"}
    )
    assert response.status_code == 202
    return await pipeline.wait_for_status(response.json()["id"], "carol", statuses)


async def test_a_structured_answer_becomes_the_analysis(
    gemini_pipeline: Pipeline, stub: GeminiStub
) -> None:
    stub.push(ok(analysis("The budget was approved.", label="positive", score=0.6)))
    doc = await _run(gemini_pipeline, stub, {"completed", "failed"})
    assert doc["status"] == "completed", doc.get("error")
    result = doc["analysis"]
    assert result["provider"] == "gemini"
    assert result["summary"] == "The budget was approved."
    assert result["sentiment"] == {"label": "positive", "score": 0.6}
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["calls"] == 1
    assert stub.calls == 1


async def test_a_server_error_is_retried_then_succeeds(
    gemini_pipeline: Pipeline, stub: GeminiStub
) -> None:
    stub.push(error(500, "INTERNAL"), ok(analysis()))
    doc = await _run(gemini_pipeline, stub, {"completed", "failed"})
    assert doc["status"] == "completed", doc.get("error")
    assert stub.calls == 2


async def test_a_safety_block_fails_at_once(gemini_pipeline: Pipeline, stub: GeminiStub) -> None:
    stub.push(prompt_blocked("SAFETY"))
    doc = await _run(gemini_pipeline, stub, {"completed", "failed"})
    assert doc["status"] == "failed"
    assert doc["error"] == {
        "stage": "analysis",
        "reason": "safety_blocked",
        "message": doc["error"]["message"],
    }
    assert stub.calls == 1
