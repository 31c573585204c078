"""Turn what google-genai raises into AnalysisError: permanent or transient, and when to retry.

The SDK raises ``errors.ClientError`` (4xx) / ``errors.ServerError`` (5xx), both ``APIError``
with ``.code`` (HTTP status), ``.status`` (RPC status name), ``.details`` (the JSON error body)
and ``.response`` (the HTTP response, for headers). Network failures surface as the transport's
own exceptions (aiohttp or httpx, depending on what is installed).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

from google.genai import errors as genai_errors

from shared.reasons import ReasonCode

from .provider import AnalysisError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*s\s*$")
# Longest server hint we take at face value; beyond it the hint is likely garbage.
_MAX_HINT_S = 24 * 3600.0


def parse_duration(value: Any) -> float | None:
    """A protobuf Duration in its JSON form ("7s", "0.25s") or as {"seconds", "nanos"}."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        return float(match.group(1)) if match else None
    if isinstance(value, Mapping):
        try:
            return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def _error_body(details: Any) -> Mapping[str, Any]:
    if isinstance(details, list) and details:
        details = details[0]
    if isinstance(details, Mapping):
        inner = details.get("error")
        return inner if isinstance(inner, Mapping) else details
    return {}


def _detail_entries(details: Any) -> list[Mapping[str, Any]]:
    entries = _error_body(details).get("details")
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, Mapping)]


def retry_delay_from_details(details: Any) -> float | None:
    """The ``retryDelay`` of a ``google.rpc.RetryInfo`` entry in an error body, if any."""
    for entry in _detail_entries(details):
        if str(entry.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = parse_duration(entry.get("retryDelay"))
            if delay is not None:
                return delay
    return None


def retry_after_header(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
    except AttributeError:
        return None
    if not value:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _retry_hint(err: genai_errors.APIError) -> float | None:
    hints = [
        h
        for h in (
            retry_delay_from_details(err.details),
            retry_after_header(getattr(err.response, "headers", None)),
        )
        if h is not None
    ]
    return min(max(hints), _MAX_HINT_S) if hints else None


def _is_bad_key(err: genai_errors.APIError) -> bool:
    # Gemini answers an invalid API key with 400 INVALID_ARGUMENT plus an ErrorInfo reason.
    for entry in _detail_entries(err.details):
        if entry.get("reason") in {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
            return True
    return "api key" in (err.message or "").lower() and "valid" in (err.message or "").lower()


def classify_api_error(err: genai_errors.APIError) -> AnalysisError:
    code = int(err.code or 0)
    text = f"{code} {err.status or ''}: {err.message or err.details}".strip()
    if code == 429:
        return AnalysisError(
            ReasonCode.RATE_LIMITED, text, retryable=True, retry_after_s=_retry_hint(err)
        )
    if code in (401, 403) or (code == 400 and _is_bad_key(err)):
        return AnalysisError(ReasonCode.INVALID_CREDENTIALS, text)
    if code in (408, 504):
        return AnalysisError(
            ReasonCode.TIMEOUT, text, retryable=True, retry_after_s=_retry_hint(err)
        )
    if code >= 500 or code == 499:
        return AnalysisError(
            ReasonCode.PROVIDER_UNAVAILABLE, text, retryable=True, retry_after_s=_retry_hint(err)
        )
    # 400 bad request, 404 unknown model, 413 too large, ...: the same call will fail again.
    return AnalysisError(ReasonCode.PROVIDER_REJECTED, text)


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [ConnectionError, OSError]
    try:
        import aiohttp

        found.append(aiohttp.ClientError)
    except ImportError:  # pragma: no cover - aiohttp is optional for google-genai
        pass
    try:
        import httpx

        found.append(httpx.TransportError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()


def classify_exception(exc: BaseException) -> AnalysisError:
    """Any exception from a model call as an AnalysisError (unknown ones are permanent)."""
    if isinstance(exc, AnalysisError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        return classify_api_error(exc)
    if isinstance(exc, TimeoutError):
        return AnalysisError(ReasonCode.TIMEOUT, f"model call timed out: {exc}", retryable=True)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return AnalysisError(
            ReasonCode.PROVIDER_UNAVAILABLE,
            f"cannot reach the model: {type(exc).__name__}: {exc}",
            retryable=True,
        )
    return AnalysisError(ReasonCode.INTERNAL, f"{type(exc).__name__}: {exc}")
