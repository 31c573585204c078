from __future__ import annotations

import pytest

from services.analyzer.analysis import AnalysisError, RetryPolicy, backoff_delay
from services.analyzer.analysis.gemini_errors import (
    parse_duration,
    retry_after_header,
    retry_delay_from_details,
)
from shared.reasons import ReasonCode


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    assert backoff_delay(1, 1.0, 30.0, rng=lambda: 0.999) == pytest.approx(0.999)
    assert backoff_delay(3, 1.0, 30.0, rng=lambda: 0.5) == pytest.approx(2.0)
    assert backoff_delay(3, 1.0, 30.0, rng=lambda: 0.0) == 0.0


def test_backoff_is_capped() -> None:
    assert backoff_delay(20, 1.0, 30.0, rng=lambda: 1.0) == pytest.approx(30.0)
    assert backoff_delay(10_000, 1.0, 30.0, rng=lambda: 1.0) == pytest.approx(30.0)


def test_server_retry_delay_is_a_floor_even_above_the_cap() -> None:
    assert backoff_delay(1, 1.0, 30.0, retry_after=7.0, rng=lambda: 0.0) == pytest.approx(7.0)
    assert backoff_delay(1, 1.0, 30.0, retry_after=45.0, rng=lambda: 1.0) == pytest.approx(49.5)


def test_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError):
        backoff_delay(0, 1.0, 30.0)


def test_policy_stops_on_permanent_errors_and_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=1.0, cap_s=10.0)
    transient = AnalysisError(ReasonCode.RATE_LIMITED, "slow down", retryable=True)
    permanent = AnalysisError(ReasonCode.PROVIDER_REJECTED, "bad request")
    assert policy.next_delay(1, transient, rng=lambda: 0.5) == pytest.approx(0.5)
    assert policy.next_delay(2, transient, rng=lambda: 0.5) == pytest.approx(1.0)
    assert policy.next_delay(3, transient) is None
    assert policy.next_delay(1, permanent) is None


def test_policy_honours_the_server_hint() -> None:
    policy = RetryPolicy()
    err = AnalysisError(ReasonCode.RATE_LIMITED, "x", retryable=True, retry_after_s=12.0)
    delay = policy.next_delay(1, err)
    assert delay is not None and 12.0 <= delay <= 13.2


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7s", 7.0), ("0.250s", 0.25), (" 12s ", 12.0), ({"seconds": "3", "nanos": 5e8}, 3.5)],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["7", "soon", None, 7, "-1s"])
def test_parse_duration_rejects_other_shapes(value: object) -> None:
    assert parse_duration(value) is None


def test_retry_info_is_found_among_other_details() -> None:
    body = {
        "error": {
            "code": 429,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"},
            ],
        }
    }
    assert retry_delay_from_details(body) == 31.0
    assert retry_delay_from_details({"error": {"code": 429}}) is None
    assert retry_delay_from_details("not json") is None


def test_retry_after_header_seconds_and_date() -> None:
    assert retry_after_header({"retry-after": "5"}) == 5.0
    date = "Wed, 21 Oct 2015 07:28:30 GMT"
    # 1445412510 is that date as a Unix time.
    assert retry_after_header({"Retry-After": date}, now=1445412500.0) == pytest.approx(10.0)
    assert retry_after_header({}) is None
    assert retry_after_header({"retry-after": "whenever"}) is None
