"""Document analysis for the analyzer service: an offline extractive provider and a Gemini
provider behind one Protocol, a global (MongoDB) rate limiter and retry timing helpers."""

from .factory import build_provider
from .gemini import GeminiConfig, GeminiProvider
from .offline import OfflineConfig, OfflineProvider
from .pricing import estimate_cost, model_info
from .provider import AnalysisCancelled, AnalysisError, AnalyzerProvider
from .ratelimit import LocalRateLimiter, MongoRateLimiter, RateLimiter, gcra_reserve
from .retry import RetryPolicy, backoff_delay

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
