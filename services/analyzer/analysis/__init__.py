"""Document analysis for the analyzer service: an offline extractive provider and a Gemini
provider behind one Protocol, a global (MongoDB) rate limiter and retry timing helpers.

The Gemini side (google-genai and its ~100,000 objects, ~0.5 s to import, ~40 MB) is imported
on first use: the offline analysis pool's workers import this package and never need it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.lazy import exports_on_first_use

from .offline import OfflineConfig, OfflineProvider
from .pricing import estimate_cost, model_info
from .provider import AnalysisCancelled, AnalysisError, AnalyzerProvider
from .ratelimit import LocalRateLimiter, MongoRateLimiter, RateLimiter, gcra_reserve
from .retry import RetryPolicy, backoff_delay

if TYPE_CHECKING:
    from .factory import build_provider
    from .gemini import GeminiConfig, GeminiProvider

__getattr__ = exports_on_first_use(
    __name__,
    {"build_provider": ".factory", "GeminiConfig": ".gemini", "GeminiProvider": ".gemini"},
)


__all__ = [
    "AnalysisCancelled",
    "AnalysisError",
    "AnalyzerProvider",
    "GeminiConfig",
    "GeminiProvider",
    "LocalRateLimiter",
    "MongoRateLimiter",
    "OfflineConfig",
    "OfflineProvider",
    "RateLimiter",
    "RetryPolicy",
    "backoff_delay",
    "build_provider",
    "estimate_cost",
    "gcra_reserve",
    "model_info",
]
