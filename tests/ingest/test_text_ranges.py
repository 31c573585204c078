"""``Range`` on GET /v1/documents/{id}/text (queries._ranged), by RFC 9110: one valid range
is 206 or 416; an invalid Range is ignored, and several ranges get the whole text (both 200;
they used to be 416)."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from services.ingest.errors import ApiError
from services.ingest.queries import _ranged

TEXT = b"hello world"  # 11 bytes


def _get(range_header: str | None) -> tuple[int, bytes, str | None]:
    headers = [] if range_header is None else [(b"range", range_header.encode())]
    request = Request({"type": "http", "method": "GET", "headers": headers})
    try:
        response = _ranged(request, TEXT)
    except ApiError as exc:
        assert exc.reason == "range_not_satisfiable"
        return exc.status, b"", exc.headers.get("Content-Range")
    assert response.headers["accept-ranges"] == "bytes"
    return response.status_code, bytes(response.body), response.headers.get("content-range")


@pytest.mark.parametrize(
    ("header", "body", "content_range"),
    [
        ("bytes=0-0", b"h", "bytes 0-0/11"),
        ("bytes=-5", b"world", "bytes 6-10/11"),
        ("bytes=3-", b"lo world", "bytes 3-10/11"),
        ("bytes=0-999999", TEXT, "bytes 0-10/11"),
        ("bytes=10-10", b"d", "bytes 10-10/11"),
        ("bytes=-100", TEXT, "bytes 0-10/11"),
        ("Bytes=0-4", b"hello", "bytes 0-4/11"),  # the unit is case-insensitive
        (" bytes=6-10 ", b"world", "bytes 6-10/11"),
        ("bytes=0-" + "9" * 5000, TEXT, "bytes 0-10/11"),  # int() refuses over 4,300 digits
    ],
)
def test_one_valid_range_is_206(header: str, body: bytes, content_range: str) -> None:
    assert _get(header) == (206, body, content_range)


@pytest.mark.parametrize("header", ["bytes=11-", "bytes=11-20", "bytes=-0", f"bytes={'9' * 30}-"])
def test_a_range_beyond_the_end_is_416(header: str) -> None:
    assert _get(header) == (416, b"", "bytes */11")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "bytes=abc",
        "bytes=5-3",  # last before first: not a valid range
        "bytes=-",
        "bytes=1-2-3",
        "items=0-4",
        "bytes 0-4",
        "bytes=0-4,6-8",  # several ranges: the whole text
        "bytes=1-2, 3-4",
    ],
)
def test_an_invalid_or_multiple_range_is_ignored(header: str | None) -> None:
    assert _get(header) == (200, TEXT, None)


ETAG = '"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"'  # sha256 of TEXT


def _answer(**headers: str) -> tuple[int, bytes, dict[str, str]]:
    raw = [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    response = _ranged(Request({"type": "http", "method": "GET", "headers": raw}), TEXT)
    return response.status_code, bytes(response.body), dict(response.headers)


def test_every_answer_names_the_text_by_its_sha256() -> None:
    for headers in ({}, {"range": "bytes=0-4"}):
        status, _, answered = _answer(**headers)
        assert answered["etag"] == ETAG, status


@pytest.mark.parametrize("if_none_match", [ETAG, f"W/{ETAG}", f'"other", {ETAG}', "*", f" {ETAG} "])
def test_if_none_match_naming_the_text_is_304_without_a_body(if_none_match: str) -> None:
    status, body, answered = _answer(if_none_match=if_none_match, range="bytes=0-4")
    assert (status, body, answered["etag"]) == (304, b"", ETAG)


def test_if_none_match_naming_another_text_gets_the_text() -> None:
    assert _answer(if_none_match='"stale"')[:2] == (200, TEXT)
    assert _answer(if_none_match='"stale"', range="bytes=0-4")[:2] == (206, b"hello")


def test_if_range_naming_the_text_keeps_the_range() -> None:
    status, body, answered = _answer(if_range=ETAG, range="bytes=6-")
    assert (status, body, answered["content-range"]) == (206, b"world", "bytes 6-10/11")


@pytest.mark.parametrize(
    "if_range",
    ['"stale"', f"W/{ETAG}", "Wed, 21 Oct 2026 07:28:00 GMT"],  # changed, weak, a date
)
def test_if_range_naming_anything_else_gets_the_whole_text(if_range: str) -> None:
    status, body, answered = _answer(if_range=if_range, range="bytes=6-")
    assert (status, body, answered.get("content-range")) == (200, TEXT, None)
