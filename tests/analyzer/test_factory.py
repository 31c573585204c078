"""build_provider, the error type and the pricing table."""

from __future__ import annotations

import pickle

import pytest

from services.analyzer.analysis import (
    AnalysisError,
    AnalyzerProvider,
    GeminiConfig,
    GeminiProvider,
    LocalRateLimiter,
    OfflineProvider,
    RateLimiter,
    build_provider,
    estimate_cost,
    model_info,
)
from services.analyzer.analysis.pricing import default_chunk_chars
from shared.reasons import ReasonCode


async def test_build_offline() -> None:
    provider = build_provider("offline", gemini=None, rate_limiter=None)
    assert isinstance(provider, OfflineProvider) and isinstance(provider, AnalyzerProvider)
    await provider.close()


async def test_build_gemini_keeps_the_limiter() -> None:
    limiter = LocalRateLimiter(10)
    assert isinstance(limiter, RateLimiter)
    provider = build_provider(
        "gemini",
        gemini=GeminiConfig(api_key="k", base_url="http://127.0.0.1:9"),
        rate_limiter=limiter,
    )
    assert isinstance(provider, GeminiProvider) and isinstance(provider, AnalyzerProvider)
    assert provider.rate_limiter is limiter
    await provider.close()


def test_build_refuses_bad_requests() -> None:
    with pytest.raises(ValueError):
        build_provider("gemini", gemini=None, rate_limiter=None)
    with pytest.raises(ValueError):
        build_provider("openai", gemini=None, rate_limiter=None)


def test_analysis_error_survives_pickling() -> None:
    err = AnalysisError(ReasonCode.RATE_LIMITED, "slow down", retryable=True, retry_after_s=7.0)
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.message, back.retryable, back.retry_after_s) == (
        ReasonCode.RATE_LIMITED,
        "slow down",
        True,
        7.0,
    )
    assert str(back) == "rate_limited: slow down"


def test_model_info_matches_versioned_names_by_family() -> None:
    assert model_info("gemini-2.5-flash").price_in_per_mtok == 0.30
    assert model_info("models/gemini-2.5-flash-lite-preview-06-17").price_in_per_mtok == 0.10
    assert model_info("gemini-2.5-pro-exp").price_out_per_mtok == 10.00
    unknown = model_info("some-other-model")
    assert unknown.price_in_per_mtok is None and unknown.input_token_limit > 0


def test_chunk_size_follows_the_input_limit() -> None:
    assert default_chunk_chars("gemini-2.5-flash") > default_chunk_chars("some-small-model")
    assert default_chunk_chars("gemini-2.5-flash") <= 120_000


def test_cost() -> None:
    assert estimate_cost(2_000_000, 1_000_000, 0.30, 2.50) == pytest.approx(3.10)
    assert estimate_cost(1000, 1000, None, None) == 0.0
