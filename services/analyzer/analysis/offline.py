"""The offline provider: extractive analysis with no network, no model download, no cost.

The CPU work runs in a worker pool so the agent's event loop keeps serving Kafka heartbeats
and progress events meanwhile. A process pool (the default) also lets the chunks of one long
document be ranked on both cores; a thread pool is available for environments where
starting processes is unwelcome (see benchmarks/bench_analysis.py for the trade-off).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from shared import heap, lifeline
from shared.events import AnalysisResult, Sentiment, Usage
from shared.reasons import ReasonCode

from .chunking import split_chunks
from .extractive import (
    ChunkDigest,
    Digest,
    ExtractiveSettings,
    detect,
    language_sample,
    map_chunk,
    reduce_digests,
)
from .provider import AnalysisCancelled, AnalysisError, never_cancelled
from .stopwords import supported_languages

log = logging.getLogger(__name__)

OFFLINE_MODEL = "textrank-vader-rake/1"

T = TypeVar("T")


@dataclass(frozen=True)
class OfflineConfig:
    # ~3,000 words: about 100-200 sentences per TextRank graph, a few tens of ms each.
    chunk_chars: int = 20_000
    #: Up to this many chunks (at least one), a document is analysed in one worker call: the
    #: chunks' digests (~45 KB pickled per chunk) then never cross to this process and back
    #: for the reduce, which cost the agent ~8 ms of CPU per 15-page document. Longer
    #: documents still spread their chunks over the workers (latency), and can be cancelled
    #: between chunks.
    one_call_chunks: int = 4
    executor: Literal["process", "thread"] = "process"
    workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))
    settings: ExtractiveSettings = field(default_factory=ExtractiveSettings)


def prepare_worker() -> None:
    # Load VADER's lexicon and langdetect's profiles once per worker, not on a user's document;
    # then settle the heap (shared/heap.py): what is loaded now lives as long as the worker,
    # and the collector's full collections no longer walk it.
    from .sentiment import score_sentences

    score_sentences(["Fine."])
    detect("This warms up the language detector once per worker process.")
    heap.settle()


def _ready() -> None:
    """A no-op task: returns once its worker has started and run its initializer."""


class OfflineProvider:
    name = "offline"

    def __init__(self, config: OfflineConfig | None = None) -> None:
        self.config = config or OfflineConfig()
        self._executor: Executor | None = None
        self._pool_lock = asyncio.Lock()

    async def _pool(self) -> Executor:
        async with self._pool_lock:
            if self._executor is None:
                self._executor = self._new_executor()
                if self.config.executor == "process":
                    # Start every worker now (a pool spawns them lazily), so no document pays
                    # for a process start and a lexicon load halfway through.
                    loop = asyncio.get_running_loop()
                    await asyncio.gather(
                        *[
                            loop.run_in_executor(self._executor, _ready)
                            for _ in range(self.config.workers)
                        ]
                    )
            return self._executor

    def _new_executor(self) -> Executor:
        if self.config.executor == "thread":
            return ThreadPoolExecutor(self.config.workers, thread_name_prefix="offline-analysis")
        # Never fork: the agent process has Kafka client threads, and a forked child could
        # inherit a held lock. A forkserver starts clean; it and the workers die with this
        # process even on SIGKILL (they outlived it for good before). Called from the event
        # loop's thread, which lives as long as the process: the forkserver's death signal
        # is tied to the thread that starts it (shared/lifeline.py).
        return ProcessPoolExecutor(
            self.config.workers, mp_context=lifeline.pool_context(), initializer=prepare_worker
        )

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        pool = await self._pool()
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def analyze(
        self,
        text: str,
        *,
        document_id: str,
        language_hint: str | None = None,
        is_cancelled: Callable[[], bool] = never_cancelled,
        detected_language: str | None = None,
    ) -> AnalysisResult:
        started = time.perf_counter()
        try:
            result = await self._analyze(text, language_hint, detected_language, is_cancelled)
        except (AnalysisError, AnalysisCancelled):
            raise
        except BrokenProcessPool as exc:
            # A worker died (most likely killed for memory); a new pool next time.
            await self._discard_pool()
            raise AnalysisError(
                ReasonCode.INTERNAL, f"analysis worker died: {exc}", retryable=True
            ) from exc
        except Exception as exc:
            log.exception("offline analysis of %s failed", document_id)
            raise AnalysisError(ReasonCode.INTERNAL, f"{type(exc).__name__}: {exc}") from exc
        result.took_ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    async def _analyze(
        self,
        text: str,
        language_hint: str | None,
        known: str | None,
        is_cancelled: Callable[[], bool],
    ) -> AnalysisResult:
        if is_cancelled():
            raise AnalysisCancelled()
        warnings: list[str] = []
        if not text.strip():
            return AnalysisResult(
                provider=self.name,
                model=OFFLINE_MODEL,
                summary="",
                sentiment=Sentiment(label="neutral", score=0.0),
                language=language_hint or known,
                chunks=0,
                warnings=["the document has no text to analyse"],
            )
        chunks = split_chunks(text, self.config.chunk_chars)
        settings = self.config.settings
        if len(chunks) <= max(1, self.config.one_call_chunks):
            # Detection, map and reduce in one round trip to a worker instead of one per
            # chunk and two more: most of a short document's latency, and its digests stay
            # in the worker.
            digest, detected = await self._run(
                _analyze_whole, text, language_hint, known, self.config.chunk_chars, settings
            )
            language = language_hint or detected
            warnings.extend(_hint_warnings(language_hint, detected))
            warnings.extend(_language_warnings(language))
            return self._result(digest, language, len(chunks), warnings)
        # Only a sample crosses to the worker, not the whole text.
        detected = known if known and not language_hint else None
        if detected is None:
            detected = await self._run(detect, language_sample(text))
        language = language_hint or detected
        warnings.extend(_hint_warnings(language_hint, detected))
        warnings.extend(_language_warnings(language))
        pending = [
            asyncio.ensure_future(
                self._run(map_chunk, c.text, c.start, c.index, language, settings)
            )
            for c in chunks
        ]
        digests: list[ChunkDigest] = []
        try:
            for next_done in asyncio.as_completed(pending):
                digests.append(await next_done)
                if is_cancelled():
                    raise AnalysisCancelled()
        finally:
            for fut in pending:
                fut.cancel()  # queued chunks of a cancelled or failed document never run
        digest = await self._run(reduce_digests, digests, settings)
        return self._result(digest, language, len(chunks), warnings)

    def _result(
        self, digest: Digest, language: str | None, chunks: int, warnings: list[str]
    ) -> AnalysisResult:
        if digest.summary_is_fallback:
            warnings.append("no prose sentences found; the summary is the document's opening")
        if language != "en":
            which = f"language {language!r}" if language else "text of unknown language"
            warnings.append(
                f"sentiment comes from VADER, an English lexicon; for {which} "
                "the label is a rough guess"
            )
        tally = digest.sentiment
        return AnalysisResult(
            provider=self.name,
            model=OFFLINE_MODEL,
            summary=" ".join(digest.summary),
            key_points=digest.key_points,
            sentiment=Sentiment(
                label=tally.label(), score=round(max(-1.0, min(1.0, tally.mean)), 4)
            ),
            topics=digest.topics,
            language=language,
            chunks=chunks,
            usage=Usage(),
            warnings=warnings,
        )

    async def _discard_pool(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=False, cancel_futures=True)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


def _analyze_whole(
    text: str,
    language_hint: str | None,
    known: str | None,
    chunk_chars: int,
    settings: ExtractiveSettings,
) -> tuple[Digest, str | None]:
    """What the chunk-by-chunk path computes (detection on the whole text's sample, a digest
    per chunk, their reduce), in a single call (in a worker)."""
    detected = known if known and not language_hint else detect(language_sample(text))
    language = language_hint or detected
    chunks = split_chunks(text, chunk_chars)
    digests = [map_chunk(c.text, c.start, c.index, language, settings) for c in chunks]
    return reduce_digests(digests, settings), detected


def _hint_warnings(language_hint: str | None, detected: str | None) -> list[str]:
    if language_hint and detected and detected != language_hint:
        return [f"language hint {language_hint!r} but the text looks like {detected!r}"]
    return []


def _language_warnings(language: str | None) -> list[str]:
    if language in supported_languages():
        return []
    return [f"no stopword list for language {language!r}; keywords use all built-in lists"]
