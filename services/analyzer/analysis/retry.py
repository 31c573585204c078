"""Retry timing as small pure functions, shared by inline retries (the Gemini provider) and by
the agent when it re-publishes a document to a retry topic for later.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .provider import AnalysisError


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    *,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry).

    Without a server hint: "full jitter", uniform in [0, min(cap, base * 2**(attempt-1))], so
    many clients failing together do not retry together. With a server hint (Retry-After,
    RetryInfo): never earlier than the hint, plus up to 10% spread for the same reason; the
    cap does not shorten a delay the server asked for.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if retry_after is not None and retry_after > 0:
        return retry_after * (1.0 + 0.1 * rng())
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return ceiling * rng()


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying an analysis again.

    ``attempt`` is the number of attempts already made (1 after the first failure).
    """

    max_attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 30.0

    def next_delay(
        self,
        attempt: int,
        error: AnalysisError,
        *,
        rng: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds until the next attempt, or None when the error is permanent or the attempts
        are used up."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        return backoff_delay(attempt, self.base_s, self.cap_s, error.retry_after_s, rng=rng)
