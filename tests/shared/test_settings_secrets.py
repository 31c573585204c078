"""DOCSTREAM_AUTH_SECRET and the secrets it replaced (shared/settings.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.ingest.settings import IngestSettings

CURRENT, OLD = "c" * 32, "o" * 32


def test_previous_secrets_come_as_a_json_list_after_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", CURRENT)
    assert IngestSettings().auth_secrets == (CURRENT,)
    monkeypatch.setenv("DOCSTREAM_AUTH_PREVIOUS_SECRETS", json.dumps([OLD, CURRENT]))
    assert IngestSettings().auth_secrets == (CURRENT, OLD)  # the current one once, first


@pytest.mark.parametrize("previous", [["change-me"], ["short"], [OLD, ""]])
def test_a_placeholder_or_short_previous_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch, previous: list[str]
) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", CURRENT)
    monkeypatch.setenv("DOCSTREAM_AUTH_PREVIOUS_SECRETS", json.dumps(previous))
    with pytest.raises(ValidationError, match="DOCSTREAM_AUTH_PREVIOUS_SECRETS"):
        IngestSettings()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", ()), ("  ", ()), (OLD, (OLD,)), (f" {OLD} ", (OLD,)), ("[]", ())],
)
def test_previous_secrets_may_be_one_secret_as_it_is_or_nothing(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", CURRENT)
    monkeypatch.setenv("DOCSTREAM_AUTH_PREVIOUS_SECRETS", raw)
    assert IngestSettings().auth_secrets == (CURRENT, *expected)


def test_a_broken_json_list_says_what_is_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCSTREAM_AUTH_SECRET", CURRENT)
    monkeypatch.setenv("DOCSTREAM_AUTH_PREVIOUS_SECRETS", f'["{OLD}"')
    with pytest.raises(ValidationError, match="must be a JSON list"):
        IngestSettings()
