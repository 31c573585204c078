"""Pick and build the analysis provider the agent's settings ask for."""

from __future__ import annotations

import logging

from .gemini import GeminiConfig, GeminiProvider
from .offline import OfflineConfig, OfflineProvider
from .provider import AnalyzerProvider
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)


def build_provider(
    name: str,
    *,
    gemini: GeminiConfig | None,
    rate_limiter: RateLimiter | None,
    offline: OfflineConfig | None = None,
) -> AnalyzerProvider:
    """``"offline"`` or ``"gemini"``; ``gemini`` is required for the latter.

    Without a rate limiter the Gemini provider is limited only by the server's 429 answers.
    """
    if name == "offline":
        return OfflineProvider(offline)
    if name == "gemini":
        if gemini is None:
            raise ValueError("the gemini provider needs a GeminiConfig (an API key)")
        if rate_limiter is None:
            log.warning("gemini provider without a rate limiter: only 429 answers will slow it")
        return GeminiProvider(gemini, rate_limiter)
    raise ValueError(f"unknown analysis provider {name!r} (expected 'offline' or 'gemini')")
