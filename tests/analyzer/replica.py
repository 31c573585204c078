"""One analyzer "replica" for rate-limit measurements: a Gemini provider behind the shared
MongoDB rate limiter, working through an endless backlog against the stub until a deadline.

Run in a separate process (multiprocessing, spawn) by the integration test and the benchmark,
so the limit is exercised across processes exactly as between real replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from pymongo import AsyncMongoClient

from services.analyzer.analysis import (
    AnalysisError,
    GeminiConfig,
    GeminiProvider,
    MongoRateLimiter,
)


async def _work(
    mongo_url: str,
    database: str,
    key: str,
    per_minute: float,
    base_url: str,
    start_at: float,
    duration_s: float,
) -> int:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url)
    limiter = MongoRateLimiter(client[database]["rate_limits"], key, per_minute)
    provider = GeminiProvider(
        GeminiConfig(api_key="replica-key", base_url=base_url, max_attempts=1), limiter
    )
    done = 0
    try:
        # One call before the window opens: connections and client sessions are set up
        # outside the measurement (the stub sees it before ``start_at``).
        await provider.analyze("Warm-up.", document_id="warm-up")
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = start_at + duration_s
        while time.time() < deadline:
            # A failed analysis was still a call the stub counted.
            with contextlib.suppress(AnalysisError):
                await provider.analyze(
                    "A short document. It has two sentences.", document_id=f"doc-{done}"
                )
            done += 1
    finally:
        await provider.close()
        await client.close()
    return done


def prepare(hold_s: float = 0.5) -> int:
    """Process warm-up: the imports above are done; holding the worker a moment makes a pool
    start each of its processes. Returns the process id."""
    time.sleep(hold_s)
    return os.getpid()


def run_replica(
    mongo_url: str,
    database: str,
    key: str,
    per_minute: float,
    base_url: str,
    start_at: float,
    duration_s: float,
) -> int:
    """Process entry point: analyses attempted until ``start_at + duration_s``."""
    return asyncio.run(_work(mongo_url, database, key, per_minute, base_url, start_at, duration_s))


def observed_per_minute(arrivals: list[float], start_at: float, duration_s: float) -> float:
    """Calls per minute seen in the window ``[start_at, start_at + duration_s)``."""
    count = sum(1 for t in arrivals if start_at <= t < start_at + duration_s)
    return count * 60.0 / duration_s
