from __future__ import annotations

import time

import pytest

from shared.auth import AuthError, credential_from_headers, issue_token, verify_token

SECRET = "s" * 40


def test_a_token_names_its_owner() -> None:
    assert verify_token(SECRET, issue_token(SECRET, "alice")).owner == "alice"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
        (lambda t: t.replace("alice", "mallory"), "bad_signature"),
        (lambda t: "garbage", "malformed_token"),
        (lambda t: issue_token("o" * 40, "alice"), "bad_signature"),
    ],
)
def test_tampered_tokens_are_refused(mangle, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthError) as info:
        verify_token(SECRET, mangle(issue_token(SECRET, "alice")))
    assert info.value.reason == reason


def test_expired_tokens_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_token(SECRET, "alice", ttl_s=10)
    monkeypatch.setattr(time, "time", lambda: 10**11)
    with pytest.raises(AuthError) as info:
        verify_token(SECRET, token)
    assert info.value.reason == "expired_token"


def test_owner_alphabet_is_restricted() -> None:
    with pytest.raises(ValueError):
        issue_token(SECRET, "a.b")


def test_bearer_or_api_key_header() -> None:
    assert credential_from_headers("Bearer abc", None) == "abc"
    assert credential_from_headers(None, "xyz") == "xyz"
    assert credential_from_headers("Basic abc", None) is None


def test_after_a_rotation_tokens_of_the_previous_secret_still_count() -> None:
    old, new, other = "o" * 32, "n" * 32, "x" * 32
    assert verify_token((new, old), issue_token(old, "alice")).owner == "alice"
    assert verify_token((new, old), issue_token(new, "bob")).owner == "bob"
    with pytest.raises(AuthError) as refused:
        verify_token((new, old), issue_token(other, "mallory"))
    assert refused.value.reason == "bad_signature"
    with pytest.raises(AuthError):
        verify_token(new, issue_token(old, "alice"))  # without the previous one: refused
