"""The MongoDB rate limiter against a real FerretDB, across two processes.

Uses the session's ``mongo_url`` fixture (tests/conftest.py starts FerretDB).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from services.analyzer.analysis import MongoRateLimiter

from .gemini_stub import GeminiStub
from .replica import observed_per_minute, prepare, run_replica

pytestmark = pytest.mark.integration

DATABASE = "docstream_test_analysis"


@pytest.fixture
async def collection(mongo_url: str) -> AsyncIterator[AsyncCollection[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    coll = client[DATABASE][f"rate_limits_{uuid.uuid4().hex[:8]}"]
    yield coll
    await coll.drop()
    await client.close()


async def test_concurrent_claims_get_distinct_evenly_spaced_slots(
    collection: AsyncCollection[Any],
) -> None:
    # Two limiters (two "replicas") over the same collection, 30 claims at once.
    a = MongoRateLimiter(collection, "k", 600)
    b = MongoRateLimiter(collection, "k", 600)
    began = time.time()
    starts = await asyncio.gather(*[(a if i % 2 else b).reserve() for i in range(30)])
    took = time.time() - began
    ordered = sorted(starts)
    assert len(set(ordered)) == 30
    gaps = [y - x for x, y in itertools.pairwise(ordered)]
    assert min(gaps) == pytest.approx(0.1, abs=1e-6)  # never two calls in one interval
    # Slots are only skipped when their time passed while the claims were still being made.
    assert ordered[-1] - ordered[0] <= 29 * 0.1 + took + 1e-6


async def test_two_processes_share_one_limit(mongo_url: str, gemini_stub: GeminiStub) -> None:
    per_minute, duration = 600.0, 6.0  # one call each 0.1 s
    key = f"it-{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pids = await asyncio.gather(*[loop.run_in_executor(pool, prepare) for _ in range(2)])
        assert len(set(pids)) == 2  # two real processes, as two replicas would be
        start_at = time.time() + 1.0  # time for each replica's warm-up call
        runs = [
            loop.run_in_executor(
                pool,
                run_replica,
                mongo_url,
                DATABASE,
                key,
                per_minute,
                gemini_stub.base_url,
                start_at,
                duration,
            )
            for _ in range(2)
        ]
        attempted = await asyncio.gather(*runs)
    assert all(n > 5 for n in attempted)  # both replicas got their share
    arrivals = [r.at for r in gemini_stub.requests]
    observed = observed_per_minute(arrivals, start_at, duration)
    assert abs(observed - per_minute) / per_minute <= 0.1, observed
    # Smooth, not bursty: no second of the run saw much more than its share.
    for second in range(int(duration)):
        in_second = sum(1 for t in arrivals if start_at + second <= t < start_at + second + 1)
        assert in_second <= per_minute / 60 + 2
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    namespace = MongoRateLimiter(client[DATABASE]["rate_limits"], key, per_minute).namespace
    await client[DATABASE]["rate_limits"].delete_many({"key": namespace})
    await client.close()
