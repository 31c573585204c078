"""The contract between the Kafka agent and an analysis backend: a Protocol and two exceptions.

A provider raises only :class:`AnalysisError` or :class:`AnalysisCancelled`, so the agent can
decide from ``reason``/``retryable`` alone whether to fail the document, re-publish it to a retry
topic, or drop it because the user cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from shared.events import AnalysisResult
from shared.reasons import ReasonCode


def never_cancelled() -> bool:
    return False


class AnalysisError(Exception):
    """An analysis that ended without a result.

    ``retryable`` says whether the same input may succeed later (rate limit, outage, timeout);
    ``retry_after_s`` is the earliest sensible retry time when the provider told us one.
    """

    def __init__(
        self,
        reason: ReasonCode,
        message: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments would be lost by the default pickling of exceptions, and the
        # offline provider moves errors across process boundaries.
        return (_rebuild_error, (self.reason, self.message, self.retryable, self.retry_after_s))

    def __repr__(self) -> str:
        return (
            f"AnalysisError(reason={self.reason.value!r}, message={self.message!r}, "
            f"retryable={self.retryable}, retry_after_s={self.retry_after_s})"
        )


def _rebuild_error(
    reason: ReasonCode, message: str, retryable: bool, retry_after_s: float | None
) -> AnalysisError:
    return AnalysisError(reason, message, retryable=retryable, retry_after_s=retry_after_s)


class AnalysisCancelled(Exception):  # noqa: N818 - the name is the agreed interface
    """The caller's ``is_cancelled()`` turned true; no result and no failure to report."""


@runtime_checkable
class AnalyzerProvider(Protocol):
    name: str

    async def analyze(
        self,
        text: str,
        *,
        document_id: str,
        language_hint: str | None = None,
        is_cancelled: Callable[[], bool] = never_cancelled,
        detected_language: str | None = None,
    ) -> AnalysisResult:
        """Analyse ``text``; raises only AnalysisError or AnalysisCancelled.

        ``language_hint`` is the uploader's word, checked against the text (a warning when
        they differ); ``detected_language`` is what the extractor already detected on the
        same text, used as it is when there is no hint (not detected a second time)."""
        ...

    async def close(self) -> None: ...
