"""The Gemini provider against the local stub: outcomes, retries and calls counted."""

from __future__ import annotations

import dataclasses
import json

import pytest

from services.analyzer.analysis import (
    AnalysisCancelled,
    AnalysisError,
    GeminiConfig,
    GeminiProvider,
)
from services.analyzer.analysis.chunking import split_chunks
from shared.reasons import ReasonCode

from .gemini_stub import (
    GeminiStub,
    Reply,
    analysis,
    answer_blocked,
    error,
    ok,
    ok_text,
    prompt_blocked,
    rate_limited,
)

# google-genai subclasses aiohttp.ClientSession, which aiohttp warns about: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession")

TEXT = "The committee approved the new budget. Everyone welcomed the decision."


class Sleeps:
    """Records the provider's backoff waits instead of sleeping them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class CountingLimiter:
    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1


def provider(
    config: GeminiConfig, sleeps: Sleeps | None = None, limiter: object = None
) -> GeminiProvider:
    return GeminiProvider(
        config,
        limiter,  # type: ignore[arg-type]
        sleep=sleeps or Sleeps(),
        rng=lambda: 0.5,
    )


async def expect_error(p: GeminiProvider, text: str = TEXT) -> AnalysisError:
    with pytest.raises(AnalysisError) as info:
        await p.analyze(text, document_id="doc-1")
    return info.value


async def test_a_normal_answer(gemini_stub: GeminiStub, fast_config: GeminiConfig) -> None:
    gemini_stub.push(
        ok(
            analysis("The budget passed.", label="positive", score=0.6, topics=["budget"]),
            prompt_tokens=1000,
            output_tokens=200,
        )
    )
    limiter = CountingLimiter()
    p = provider(fast_config, limiter=limiter)
    result = await p.analyze(TEXT, document_id="doc-1")
    await p.close()

    assert result.provider == "gemini" and result.model == "gemini-2.5-flash"
    assert result.summary == "The budget passed."
    assert result.sentiment.label == "positive" and result.sentiment.score == 0.6
    assert result.topics == ["budget"] and result.language == "en" and result.chunks == 1
    assert result.usage.input_tokens == 1000 and result.usage.output_tokens == 200
    assert result.usage.calls == 1
    # gemini-2.5-flash list price: $0.30 in, $2.50 out per million tokens.
    assert result.usage.estimated_cost_usd == pytest.approx(0.0003 + 0.0005)
    assert limiter.acquired == 1
    (request,) = gemini_stub.requests
    assert request.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers.get("x-goog-api-key") == "test-key"
    assert TEXT in request.prompt
    generation = request.body["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    assert set(generation["responseSchema"]["required"]) >= {"summary", "sentiment", "topics"}


async def test_429_honours_the_retry_delay_then_succeeds(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(rate_limited("7s"), ok())
    sleeps = Sleeps()
    config = dataclasses.replace(fast_config, max_inline_wait_s=60.0)
    result = await provider(config, sleeps).analyze(TEXT, document_id="doc-1")
    assert result.summary
    assert gemini_stub.calls == 2
    assert len(sleeps.delays) == 1 and 7.0 <= sleeps.delays[0] <= 7.7


async def test_429_retry_after_header_is_honoured(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(rate_limited(None, retry_after="3"), ok())
    sleeps = Sleeps()
    await provider(fast_config, sleeps).analyze(TEXT, document_id="doc-1")
    assert gemini_stub.calls == 2 and 3.0 <= sleeps.delays[0] <= 3.3


async def test_429_until_attempts_run_out(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(*[rate_limited("2s") for _ in range(5)])
    limiter = CountingLimiter()
    err = await expect_error(provider(fast_config, limiter=limiter))
    assert err.reason is ReasonCode.RATE_LIMITED and err.retryable
    assert err.retry_after_s == 2.0
    assert gemini_stub.calls == fast_config.max_attempts == 3
    assert limiter.acquired == 3  # the limiter is asked before every call, retries included


async def test_long_server_delay_goes_back_to_the_agent(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(rate_limited("120s"))
    sleeps = Sleeps()
    err = await expect_error(provider(fast_config, sleeps))
    assert err.reason is ReasonCode.RATE_LIMITED and err.retryable
    assert err.retry_after_s is not None and err.retry_after_s >= 120.0
    assert gemini_stub.calls == 1 and sleeps.delays == []


async def test_500_then_success(gemini_stub: GeminiStub, fast_config: GeminiConfig) -> None:
    gemini_stub.push(error(500, "INTERNAL"), ok())
    sleeps = Sleeps()
    result = await provider(fast_config, sleeps).analyze(TEXT, document_id="doc-1")
    assert result.summary and gemini_stub.calls == 2
    # Full jitter with rng 0.5 and base 0.01 s: half of the first ceiling.
    assert sleeps.delays == [pytest.approx(0.005)]


async def test_503_until_attempts_run_out(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(*[error(503, "UNAVAILABLE") for _ in range(3)])
    err = await expect_error(provider(fast_config))
    assert err.reason is ReasonCode.PROVIDER_UNAVAILABLE and err.retryable
    assert gemini_stub.calls == 3


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            error(400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
            ReasonCode.PROVIDER_REJECTED,
        ),
        (error(404, "NOT_FOUND", "models/nope is not found"), ReasonCode.PROVIDER_REJECTED),
        (error(401, "UNAUTHENTICATED"), ReasonCode.INVALID_CREDENTIALS),
        (error(403, "PERMISSION_DENIED"), ReasonCode.INVALID_CREDENTIALS),
        (
            error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                    }
                ],
            ),
            ReasonCode.INVALID_CREDENTIALS,
        ),
        (prompt_blocked("SAFETY"), ReasonCode.SAFETY_BLOCKED),
        (answer_blocked("SAFETY"), ReasonCode.SAFETY_BLOCKED),
        (answer_blocked("PROHIBITED_CONTENT"), ReasonCode.SAFETY_BLOCKED),
    ],
)
async def test_permanent_errors_fail_at_once(
    gemini_stub: GeminiStub, fast_config: GeminiConfig, reply: Reply, reason: ReasonCode
) -> None:
    gemini_stub.push(reply)
    err = await expect_error(provider(fast_config))
    assert err.reason is reason and not err.retryable
    assert gemini_stub.calls == 1


async def test_fenced_json_is_repaired_without_a_retry(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(ok_text("```json\n" + json.dumps(analysis("Fenced.")) + "\n```"))
    result = await provider(fast_config).analyze(TEXT, document_id="doc-1")
    assert result.summary == "Fenced." and gemini_stub.calls == 1


async def test_invalid_json_is_retried_once(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(ok_text('{"summary": "cut'), ok(analysis("Second try.")))
    result = await provider(fast_config).analyze(TEXT, document_id="doc-1")
    assert result.summary == "Second try." and gemini_stub.calls == 2
    assert result.usage.calls == 2  # the malformed answer was billed too


async def test_invalid_json_twice_is_bad_model_output(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    gemini_stub.push(ok_text("not json at all"), ok_text(json.dumps({"key_points": []})))
    err = await expect_error(provider(fast_config))
    assert err.reason is ReasonCode.BAD_MODEL_OUTPUT and not err.retryable
    assert gemini_stub.calls == 2


async def test_slow_answer_past_the_hard_limit_is_a_timeout(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    config = dataclasses.replace(
        fast_config, soft_timeout_s=0.1, hard_timeout_s=0.3, max_attempts=2
    )
    gemini_stub.push(dataclasses.replace(ok(), delay_s=2.0), dataclasses.replace(ok(), delay_s=2.0))
    err = await expect_error(provider(config))
    assert err.reason is ReasonCode.TIMEOUT and err.retryable
    assert gemini_stub.calls == 2


async def test_slow_answer_past_the_soft_limit_warns(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    config = dataclasses.replace(fast_config, soft_timeout_s=0.1, hard_timeout_s=3.0)
    gemini_stub.push(dataclasses.replace(ok(), delay_s=0.4))
    result = await provider(config).analyze(TEXT, document_id="doc-1")
    assert any("soft time limit" in w for w in result.warnings)
    assert gemini_stub.calls == 1


async def test_long_text_is_chunked_and_reduced(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    config = dataclasses.replace(fast_config, chunk_chars=4000)
    paragraphs = [f"Paragraph {i} talks about subject number {i}. " * 20 for i in range(12)]
    text = "\n\n".join(paragraphs)
    chunks = len(split_chunks(text, 4000))
    assert chunks >= 3
    chunk_replies = [
        ok(
            analysis(f"Part {i} summary.", score=0.2, label="positive"),
            prompt_tokens=900,
            output_tokens=50,
        )
        for i in range(chunks)
    ]
    final = ok(
        analysis("Whole document summary.", topics=["subjects"]),
        prompt_tokens=300,
        output_tokens=80,
    )
    gemini_stub.push(*chunk_replies, final)
    result = await provider(config).analyze(text, document_id="doc-long")
    assert result.chunks == chunks
    assert gemini_stub.calls == chunks + 1
    assert result.summary == "Whole document summary."
    reduce_prompt = gemini_stub.requests[-1].prompt
    assert all(f"Part {i} summary." in reduce_prompt for i in range(chunks))
    assert "<parts>" in reduce_prompt
    # Every chunk's text was sent: the whole document counts.
    sent = "".join(r.prompt for r in gemini_stub.requests[:-1])
    assert all(f"Paragraph {i} talks" in sent for i in range(12))
    assert result.usage.input_tokens == chunks * 900 + 300
    assert result.usage.output_tokens == chunks * 50 + 80
    assert result.usage.calls == chunks + 1


async def test_cancelled_before_any_call(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    with pytest.raises(AnalysisCancelled):
        await provider(fast_config).analyze(TEXT, document_id="d", is_cancelled=lambda: True)
    assert gemini_stub.calls == 0


async def test_cancelled_between_chunks(gemini_stub: GeminiStub, fast_config: GeminiConfig) -> None:
    config = dataclasses.replace(fast_config, chunk_chars=4000)
    text = "\n\n".join(f"Sentence number {i} is here. " * 40 for i in range(6))
    cancelled = False

    class CancelAfterFirst:
        async def acquire(self) -> None:
            nonlocal cancelled
            if gemini_stub.calls >= 1:
                cancelled = True

    p = provider(config, limiter=CancelAfterFirst())
    with pytest.raises(AnalysisCancelled):
        await p.analyze(text, document_id="d", is_cancelled=lambda: cancelled)
    assert gemini_stub.calls == 1


async def test_empty_text_makes_no_call(gemini_stub: GeminiStub, fast_config: GeminiConfig) -> None:
    result = await provider(fast_config).analyze("  \n ", document_id="d")
    assert result.summary == "" and result.chunks == 0 and result.warnings
    assert gemini_stub.calls == 0


async def test_unreachable_server_is_transient(fast_config: GeminiConfig) -> None:
    config = dataclasses.replace(fast_config, base_url="http://127.0.0.1:9", max_attempts=2)
    err = await expect_error(provider(config))
    assert err.reason is ReasonCode.PROVIDER_UNAVAILABLE and err.retryable


async def test_limiter_failure_is_retryable(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    class Broken:
        async def acquire(self) -> None:
            raise ConnectionError("mongo is down")

    err = await expect_error(provider(fast_config, limiter=Broken()))
    assert err.retryable and "rate limiter" in err.message
    assert gemini_stub.calls == 0


def test_config_derives_chunk_size_and_prices() -> None:
    config = GeminiConfig(api_key="k")
    assert 4_000 <= config.chunk_chars <= 120_000
    assert config.price_in_per_mtok == 0.30 and config.price_out_per_mtok == 2.50
    custom = GeminiConfig(api_key="k", model="my-model", chunk_chars=5000, price_in_per_mtok=1.0)
    assert custom.chunk_chars == 5000 and custom.price_in_per_mtok == 1.0
    assert custom.price_out_per_mtok is None
    assert "secret-key-value" not in repr(GeminiConfig(api_key="secret-key-value"))
    with pytest.raises(ValueError):
        GeminiConfig(api_key="")
    with pytest.raises(ValueError):
        GeminiConfig(api_key="k", soft_timeout_s=10, hard_timeout_s=5)


async def test_reduce_runs_in_rounds_when_parts_do_not_fit(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    config = dataclasses.replace(fast_config, chunk_chars=4000)
    text = "\n\n".join(f"Block {i} has its own sentence here. " * 90 for i in range(8))
    chunks = len(split_chunks(text, 4000))
    long_summary = "This part says a great deal. " * 60  # ~1,800 characters per part
    gemini_stub.push(*[ok(analysis(long_summary)) for _ in range(chunks)])
    result = await provider(config).analyze(text, document_id="doc-rounds")
    # More than one reduce call: the parts were combined in groups, then the groups.
    assert gemini_stub.calls > chunks + 1
    assert result.usage.calls == gemini_stub.calls
    assert all(len(r.prompt) < 2 * 4000 + 500 for r in gemini_stub.requests)


async def test_language_falls_back_to_the_hint(
    gemini_stub: GeminiStub, fast_config: GeminiConfig
) -> None:
    answer = analysis("Résumé.")
    del answer["language"]
    gemini_stub.push(ok(answer))
    result = await provider(fast_config).analyze(TEXT, document_id="d", language_hint="fr")
    assert result.language == "fr"


async def test_unexpected_errors_become_internal(fast_config: GeminiConfig) -> None:
    class Exploding:
        async def generate_content(self, **_: object) -> None:
            raise RuntimeError("a bug in the SDK")

    class FakeClient:
        class aio:  # noqa: N801 - mirrors genai.Client.aio
            models = Exploding()

    p = GeminiProvider(fast_config, client=FakeClient())  # type: ignore[arg-type]
    err = await expect_error(p)
    assert err.reason is ReasonCode.INTERNAL and not err.retryable
