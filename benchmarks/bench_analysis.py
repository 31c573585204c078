"""Benchmarks of the analysis library.

- ``analysis.offline_ms_per_1k_words``: wall time of the offline provider per 1,000 words over
  the corpus texts (default executor: worker processes), after the pool has started. The same
  figure with the thread executor, and the longest event-loop stall seen with each, are
  reported beside it: they are why the default is what it is.
- ``analysis.rate_limit_error``: ``|observed - L| / L`` for a global limit of L calls per minute,
  with 2 replica processes that each have a backlog, counted at a local Gemini stub over the
  measurement window (3 minutes; 30 s with ``--quick``). Needs MongoDB/FerretDB: skipped, with
  a note, when no ``mongo_url`` is given.

``run(corpus_dir, mongo_url)`` returns the figures; ``python benchmarks/bench_analysis.py``
prints them as JSON. Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script: the stub lives in the tests package

from services.analyzer.analysis import OfflineConfig, OfflineProvider  # noqa: E402
from services.extractor.extraction.dispatch import extract_pages  # noqa: E402
from services.extractor.extraction.errors import ExtractionError  # noqa: E402
from services.extractor.extraction.pages import PAGE_SEPARATOR  # noqa: E402
from shared.text import count_words  # noqa: E402
from tests.analyzer.gemini_stub import GeminiStub  # noqa: E402
from tests.analyzer.replica import observed_per_minute, prepare, run_replica  # noqa: E402

RATE_LIMIT_PER_MINUTE = 60
REPLICAS = 2


def corpus_texts(corpus_dir: Path) -> list[tuple[str, str]]:
    """(name, text) of every corpus file that has text without a password."""
    texts: list[tuple[str, str]] = []
    for path in sorted(
        [*(corpus_dir / "pdf").glob("*.pdf"), *(corpus_dir / "docx").glob("*.docx")]
    ):
        try:
            texts.append((path.name, PAGE_SEPARATOR.join(extract_pages(path))))
        except ExtractionError:
            continue  # encrypted or empty: nothing for the analyzer
    return [(name, text) for name, text in texts if text.strip()]


async def _offline(
    texts: list[tuple[str, str]], executor: Literal["process", "thread"], repeats: int
) -> tuple[float, float]:
    """(ms per 1,000 words, longest event-loop stall in ms) for one executor."""
    provider = OfflineProvider(OfflineConfig(executor=executor))
    words = sum(count_words(text) for _, text in texts)
    stalls: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    try:
        await provider.analyze("Start the workers. They load their lexicons.", document_id="w")
        tick = asyncio.create_task(ticker())
        rounds = []
        for _ in range(repeats):
            began = time.perf_counter()
            for name, text in texts:
                await provider.analyze(text, document_id=name)
            rounds.append(time.perf_counter() - began)
        running = False
        await tick
    finally:
        await provider.close()
    return statistics.median(rounds) * 1000 / (words / 1000), max(stalls) * 1000


def rate_limit_error(mongo_url: str, duration_s: float, per_minute: float) -> tuple[float, float]:
    """(relative error, observed calls per minute) for REPLICAS processes sharing one limit."""
    key = f"bench-{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    with GeminiStub() as stub, ProcessPoolExecutor(REPLICAS, mp_context=ctx) as pool:
        pids = {f.result() for f in [pool.submit(prepare) for _ in range(REPLICAS)]}
        if len(pids) != REPLICAS:
            raise RuntimeError("the replicas did not start as separate processes")
        start_at = time.time() + 2.0
        runs = [
            pool.submit(
                run_replica,
                mongo_url,
                "docstream_bench",
                key,
                per_minute,
                stub.base_url,
                start_at,
                duration_s,
            )
            for _ in range(REPLICAS)
        ]
        for run_ in runs:
            run_.result()
        arrivals = [r.at for r in stub.requests]
    observed = observed_per_minute(arrivals, start_at, duration_s)
    return abs(observed - per_minute) / per_minute, observed


def run(corpus_dir: Path, mongo_url: str | None, *, quick: bool = False) -> dict[str, float]:
    texts = corpus_texts(corpus_dir)
    repeats = 1 if quick else 3
    process_ms, process_stall = asyncio.run(_offline(texts, "process", repeats))
    thread_ms, thread_stall = asyncio.run(_offline(texts, "thread", repeats))
    results = {
        "analysis.offline_ms_per_1k_words": round(process_ms, 2),
        "analysis.offline_ms_per_1k_words_thread": round(thread_ms, 2),
        "analysis.offline_loop_stall_ms": round(process_stall, 1),
        "analysis.offline_loop_stall_ms_thread": round(thread_stall, 1),
    }
    if mongo_url is None:
        print("analysis.rate_limit_error skipped: no mongo_url", file=sys.stderr)
    else:
        error, observed = rate_limit_error(
            mongo_url, 30.0 if quick else 180.0, RATE_LIMIT_PER_MINUTE
        )
        results["analysis.rate_limit_error"] = round(error, 4)
        results["analysis.rate_limit_observed_per_min"] = round(observed, 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--mongo-url", default=None, help="MongoDB/FerretDB for the rate limit")
    parser.add_argument("--quick", action="store_true", help="30 s rate window, 1 repeat")
    args = parser.parse_args()
    print(json.dumps(run(args.corpus, args.mongo_url, quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
