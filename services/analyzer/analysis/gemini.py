"""The Gemini provider: one structured generateContent call per chunk, then structured reduce
calls over the chunk analyses, through google-genai.

Every call: check cancellation, wait for the global rate limiter, call with a soft limit (log
and warn) and a hard limit (abandon, retry as TIMEOUT). Transient failures are retried inline
with exponential backoff and full jitter, honouring the server's retry delay; a delay longer
than ``max_inline_wait_s`` is handed back to the agent as a retryable error instead of holding
a worker. The SDK's own retries are switched off so that attempts are counted in one place.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google import genai
from google.genai import types

from services.analyzer import metrics
from shared.events import AnalysisResult, Sentiment, Usage
from shared.reasons import ReasonCode
from shared.text import detect_language

from . import gemini_output as out
from .chunking import split_chunks
from .gemini_errors import classify_exception
from .pricing import default_chunk_chars, estimate_cost, model_info
from .provider import AnalysisCancelled, AnalysisError, never_cancelled
from .ratelimit import RateLimiter
from .retry import backoff_delay

log = logging.getLogger(__name__)

T = TypeVar("T")

# How often a wait (rate limiter, model call, backoff) looks at is_cancelled().
_CANCEL_POLL_S = 0.25
_SAFETY_FINISH = {"SAFETY", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "RECITATION", "IMAGE_SAFETY"}
_MAX_KEY_POINTS = 8
_MAX_TOPICS = 10


@dataclass(frozen=True)
class GeminiConfig:
    api_key: str = field(repr=False)
    model: str = "gemini-2.5-flash"
    base_url: str | None = None
    # v1beta is where generateContent takes systemInstruction and responseSchema everywhere;
    # the SDK's own default has changed between releases, so we pin it.
    api_version: str = "v1beta"
    # 0 means: derived from the model's input limit (see pricing.default_chunk_chars).
    chunk_chars: int = 0
    soft_timeout_s: float = 30.0
    hard_timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0
    # A server-requested wait longer than this is not slept inline: the error goes back to the
    # agent (retryable, with retry_after_s) so it can park the document on a retry topic.
    max_inline_wait_s: float = 60.0
    # USD per million tokens; None means the model's list price when we know it.
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    temperature: float = 0.2
    max_output_tokens: int | None = None
    thinking_budget: int | None = None

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("GeminiConfig needs an API key")
        if not 0 < self.soft_timeout_s <= self.hard_timeout_s:
            raise ValueError("need 0 < soft_timeout_s <= hard_timeout_s")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        info = model_info(self.model)
        # A frozen dataclass: derived defaults are filled in once, here.
        if self.chunk_chars <= 0:
            object.__setattr__(self, "chunk_chars", default_chunk_chars(self.model))
        if self.price_in_per_mtok is None:
            object.__setattr__(self, "price_in_per_mtok", info.price_in_per_mtok)
        if self.price_out_per_mtok is None:
            object.__setattr__(self, "price_out_per_mtok", info.price_out_per_mtok)


@dataclass
class _Ledger:
    """What one document's analysis consumed and noticed, across all its calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, usage: types.GenerateContentResponseUsageMetadata | None) -> None:
        self.calls += 1
        if usage is None:
            return
        self.input_tokens += usage.prompt_token_count or 0
        # Thinking tokens are billed as output.
        self.output_tokens += (usage.candidates_token_count or 0) + (
            usage.thoughts_token_count or 0
        )

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


class GeminiProvider:
    name = "gemini"

    def __init__(
        self,
        config: GeminiConfig,
        rate_limiter: RateLimiter | None = None,
        *,
        client: genai.Client | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.rate_limiter = rate_limiter
        self._sleep = sleep
        self._rng = rng
        self._client = client or genai.Client(
            vertexai=False,
            api_key=config.api_key,
            http_options=types.HttpOptions(
                base_url=config.base_url,
                api_version=config.api_version,
                # Milliseconds; a backstop behind our own hard limit, which fires first.
                timeout=int((config.hard_timeout_s + 5) * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    # --- the Protocol ---

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
        ledger = _Ledger()
        # The model is told the language either way; it reports its own reading.
        language_hint = language_hint or detected_language
        try:
            result = await self._analyze(text, document_id, language_hint, is_cancelled, ledger)
        except (AnalysisError, AnalysisCancelled):
            log.info(
                "analysis of %s ended early after %d calls (%d tokens in, %d out)",
                document_id,
                ledger.calls,
                ledger.input_tokens,
                ledger.output_tokens,
            )
            raise
        except Exception as exc:
            log.exception("gemini analysis of %s failed", document_id)
            raise AnalysisError(ReasonCode.INTERNAL, f"{type(exc).__name__}: {exc}") from exc
        result.took_ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    async def close(self) -> None:
        await self._client.aio.aclose()
        self._client.close()  # the SDK also holds a (never used) synchronous HTTP client

    # --- one document ---

    async def _analyze(
        self,
        text: str,
        document_id: str,
        language_hint: str | None,
        is_cancelled: Callable[[], bool],
        ledger: _Ledger,
    ) -> AnalysisResult:
        if is_cancelled():
            raise AnalysisCancelled()
        chunks = split_chunks(text, self.config.chunk_chars)
        if not chunks:
            return AnalysisResult(
                provider=self.name,
                model=self.config.model,
                summary="",
                sentiment=Sentiment(label="neutral", score=0.0),
                language=language_hint,
                chunks=0,
                warnings=["the document has no text to analyse"],
            )
        parts = [
            await self._call(
                out.SYSTEM_INSTRUCTION,
                out.chunk_prompt(c.text, document_id, c.index, len(chunks)),
                ledger,
                is_cancelled,
            )
            for c in chunks
        ]
        final = await self._reduce(parts, document_id, ledger, is_cancelled)
        language = final.language or language_hint
        if language is None:
            language = await asyncio.to_thread(detect_language, text)
        return AnalysisResult(
            provider=self.name,
            model=self.config.model,
            summary=final.summary,
            key_points=final.key_points[:_MAX_KEY_POINTS],
            sentiment=Sentiment(label=final.sentiment_label, score=final.sentiment_score),
            topics=final.topics[:_MAX_TOPICS],
            language=language,
            chunks=len(chunks),
            usage=self._usage(ledger),
            warnings=ledger.warnings,
        )

    async def _reduce(
        self,
        parts: list[out.ModelAnalysis],
        document_id: str,
        ledger: _Ledger,
        is_cancelled: Callable[[], bool],
    ) -> out.ModelAnalysis:
        """Combine chunk analyses; in several rounds if they do not fit one call."""
        while len(parts) > 1:
            groups: list[list[out.ModelAnalysis]] = [[]]
            size = 0
            for part in parts:
                part_size = len(str(part.as_json()))
                # Each group takes at least two parts, so every round makes progress.
                if len(groups[-1]) >= 2 and size + part_size > self.config.chunk_chars:
                    groups.append([])
                    size = 0
                groups[-1].append(part)
                size += part_size
            parts = [
                group[0]
                if len(group) == 1
                else await self._call(
                    out.REDUCE_INSTRUCTION,
                    out.reduce_prompt(group, document_id),
                    ledger,
                    is_cancelled,
                )
                for group in groups
            ]
        return parts[0]

    def _usage(self, ledger: _Ledger) -> Usage:
        cfg = self.config
        if cfg.price_in_per_mtok is None or cfg.price_out_per_mtok is None:
            ledger.warn(f"no price known for model {cfg.model!r}: estimated cost is incomplete")
        return Usage(
            input_tokens=ledger.input_tokens,
            output_tokens=ledger.output_tokens,
            calls=ledger.calls,
            estimated_cost_usd=round(
                estimate_cost(
                    ledger.input_tokens,
                    ledger.output_tokens,
                    cfg.price_in_per_mtok,
                    cfg.price_out_per_mtok,
                ),
                6,
            ),
        )

    # --- one model call, with retries ---

    async def _call(
        self,
        system: str,
        prompt: str,
        ledger: _Ledger,
        is_cancelled: Callable[[], bool],
    ) -> out.ModelAnalysis:
        cfg = self.config
        malformed = 0
        attempt = 0
        while True:
            attempt += 1
            if is_cancelled():
                raise AnalysisCancelled()
            await self._acquire(is_cancelled)
            if is_cancelled():
                raise AnalysisCancelled()
            try:
                response = await self._generate(system, prompt, ledger, is_cancelled)
                return self._read(response, ledger)
            except (AnalysisCancelled, AnalysisError):
                raise  # cancelled, or a verdict on the answer (safety): never retried
            except out.MalformedOutputError as exc:
                # Sampling again usually fixes a malformed answer; more tries rarely do.
                malformed += 1
                if malformed > 1 or attempt >= cfg.max_attempts:
                    raise AnalysisError(
                        ReasonCode.BAD_MODEL_OUTPUT, f"{exc} (after {attempt} attempts)"
                    ) from exc
                log.warning("malformed model output, asking again: %s", exc)
                continue
            except Exception as exc:  # every failure is classified below
                error = classify_exception(exc)
                if not error.retryable:
                    raise error from exc
                if attempt >= cfg.max_attempts:
                    raise AnalysisError(
                        error.reason,
                        f"{error.message} (gave up after {attempt} attempts)",
                        retryable=True,
                        retry_after_s=error.retry_after_s,
                    ) from exc
                delay = backoff_delay(
                    attempt,
                    cfg.backoff_base_s,
                    cfg.backoff_max_s,
                    error.retry_after_s,
                    rng=self._rng,
                )
                if delay > cfg.max_inline_wait_s:
                    raise AnalysisError(
                        error.reason,
                        f"{error.message} (the server asks to wait {delay:.0f} s)",
                        retryable=True,
                        retry_after_s=delay,
                    ) from exc
                metrics.MODEL_RETRIES.labels(error.reason.value).inc()
                log.warning(
                    "model call failed (%s), attempt %d of %d, retrying in %.2f s",
                    error.message,
                    attempt,
                    cfg.max_attempts,
                    delay,
                )
                await self._cancellable(self._sleep(delay), is_cancelled)

    async def _acquire(self, is_cancelled: Callable[[], bool]) -> None:
        if self.rate_limiter is None:
            return
        try:
            await self._cancellable(self.rate_limiter.acquire(), is_cancelled)
        except AnalysisCancelled:
            raise
        except Exception as exc:  # the limiter's store failing is transient
            raise AnalysisError(
                ReasonCode.INTERNAL,
                f"rate limiter unavailable: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc

    async def _cancellable(self, awaitable: Awaitable[T], is_cancelled: Callable[[], bool]) -> T:
        """Await ``awaitable`` but give up (AnalysisCancelled) as soon as is_cancelled()."""
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=_CANCEL_POLL_S)
                if done:
                    return task.result()
                if is_cancelled():
                    raise AnalysisCancelled()
        finally:
            if not task.done():
                task.cancel()

    async def _generate(
        self,
        system: str,
        prompt: str,
        ledger: _Ledger,
        is_cancelled: Callable[[], bool],
    ) -> types.GenerateContentResponse:
        cfg = self.config
        config = types.GenerateContentConfig(
            system_instruction=system,
            response_mime_type="application/json",
            response_schema=out.RESPONSE_SCHEMA,
            temperature=cfg.temperature,
            # No tools are declared; switching function calling off also skips its bookkeeping.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            max_output_tokens=cfg.max_output_tokens,
            thinking_config=(
                types.ThinkingConfig(thinking_budget=cfg.thinking_budget)
                if cfg.thinking_budget is not None
                else None
            ),
        )
        started = time.monotonic()
        task = asyncio.ensure_future(
            self._client.aio.models.generate_content(
                model=cfg.model, contents=prompt, config=config
            )
        )
        soft_warned = False
        try:
            while not task.done():
                elapsed = time.monotonic() - started
                if elapsed >= cfg.hard_timeout_s:
                    raise TimeoutError(f"no answer within the hard limit of {cfg.hard_timeout_s} s")
                if elapsed >= cfg.soft_timeout_s and not soft_warned:
                    soft_warned = True
                    log.warning("model call still running after %.1f s", elapsed)
                    ledger.warn(
                        f"a model call exceeded the soft time limit of {cfg.soft_timeout_s} s"
                    )
                next_mark = cfg.soft_timeout_s if not soft_warned else cfg.hard_timeout_s
                await asyncio.wait(
                    {task}, timeout=max(0.0, min(_CANCEL_POLL_S, next_mark - elapsed))
                )
                if not task.done() and is_cancelled():
                    raise AnalysisCancelled()
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    def _read(self, response: types.GenerateContentResponse, ledger: _Ledger) -> out.ModelAnalysis:
        ledger.add(response.usage_metadata)
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason:
            detail = feedback.block_reason_message or ""
            raise AnalysisError(
                ReasonCode.SAFETY_BLOCKED,
                f"prompt blocked: {_name(feedback.block_reason)} {detail}".strip(),
            )
        candidates = response.candidates or []
        if not candidates:
            raise out.MalformedOutputError("the answer has no candidates")
        candidate = candidates[0]
        finish = _name(candidate.finish_reason)
        if finish in _SAFETY_FINISH:
            raise AnalysisError(
                ReasonCode.SAFETY_BLOCKED, f"answer withheld: finish reason {finish}"
            )
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        text = "".join(p.text for p in parts if p.text and not p.thought)
        if not text.strip():
            raise out.MalformedOutputError(f"empty answer (finish reason {finish})")
        try:
            return out.parse_model_output(text)
        except out.MalformedOutputError as exc:
            if finish == "MAX_TOKENS":
                raise out.MalformedOutputError(
                    f"answer cut at the output token limit: {exc}"
                ) from exc
            raise


def _name(value: Any) -> str:
    """An SDK enum (or an unknown string the SDK passed through) as its plain name."""
    return str(getattr(value, "value", value) or "")
