"""Broker-free tests of the upload parser (several files streamed to blobs), the list cursor
and the date-times the list accepts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from services.ingest.errors import ApiError
from services.ingest.queries import _instant, decode_cursor, encode_cursor
from services.ingest.upload import receive_upload
from shared.blobs import LocalBlobStore
from shared.readmodel import Cursor

BOUNDARY = "b0undary"
FIELDS = frozenset({"analyze", "duplicates"})


def _body(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _stored(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _request(body: bytes, chunk: int = 7) -> Request:
    """A request whose body arrives in small chunks, so parts straddle chunk boundaries."""
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
    }
    return Request(scope, receive)


async def _receive(tmp_path: Path, body: bytes, **limits: int) -> Any:
    store = LocalBlobStore(tmp_path)
    return store, await receive_upload(
        _request(body),
        store,
        lambda i: f"up/{i}",
        max_bytes=limits.get("max_bytes", 1000),
        max_files=limits.get("max_files", 3),
        known_fields=FIELDS,
    )


async def test_several_files_each_to_its_blob_with_their_hashes(tmp_path: Path) -> None:
    body = _body(
        [
            ("analyze", None, b"false"),
            ("file", "a.txt", b"first file " * 10),
            ("unknown", None, b"ignored"),
            ("file", "b.pdf", b"%PDF-1.4 second"),
        ]
    )
    store, upload = await _receive(tmp_path, body)
    assert [f.filename for f in upload.files] == ["a.txt", "b.pdf"]
    assert upload.fields == {"analyze": "false"}
    assert (await store.read_bytes("up/0")) == b"first file " * 10
    assert upload.files[1].head == b"%PDF-1.4 second"
    assert upload.files[0].blob.sha256 != upload.files[1].blob.sha256


async def test_filenames_escaped_by_browsers_and_curl_are_decoded(tmp_path: Path) -> None:
    """Browsers (the HTML standard) and curl write ``"``, CR and LF in a multipart filename as
    ``%22``, ``%0D`` and ``%0A``, and escape nothing else; line breaks become spaces."""
    names = [
        ("naïve %22quoted%22 名前.txt", 'naïve "quoted" 名前.txt'),
        ("évil %22q%22.pdf", 'évil "q".pdf'),
        ("two%0D%0Alines.txt", "two lines.txt"),
        ("100%25 %0a %41.txt", "100%25 %0a %41.txt"),  # not escapes of this encoding
    ]
    body = _body([("file", sent, b"data") for sent, _ in names])
    _, upload = await _receive(tmp_path, body, max_files=len(names))
    assert [f.filename for f in upload.files] == [kept for _, kept in names]


async def test_a_file_over_the_limit_is_refused_alone(tmp_path: Path) -> None:
    body = _body([("file", "big.txt", b"x" * 50), ("file", "small.txt", b"ok")])
    store, upload = await _receive(tmp_path, body, max_bytes=20)
    assert upload.files[0].error is not None and upload.files[0].error.status == 413
    assert not await store.exists("up/0")
    assert (await store.read_bytes("up/1")) == b"ok"


async def test_too_many_files_leave_nothing_behind(tmp_path: Path) -> None:
    body = _body([("file", f"{i}.txt", b"data") for i in range(4)])
    with pytest.raises(ApiError) as refused:
        await _receive(tmp_path, body, max_files=3)
    assert refused.value.reason == "too_many_files"
    assert _stored(tmp_path) == []


async def test_a_field_sent_twice_is_refused(tmp_path: Path) -> None:
    body = _body([("analyze", None, b"true"), ("analyze", None, b"false"), ("file", "a", b"x")])
    with pytest.raises(ApiError) as refused:
        await _receive(tmp_path, body)
    assert refused.value.reason == "invalid_field"
    assert _stored(tmp_path) == []


async def test_a_body_without_files(tmp_path: Path) -> None:
    with pytest.raises(ApiError) as refused:
        await _receive(tmp_path, _body([("analyze", None, b"true")]))
    assert refused.value.reason == "missing_file"


def test_cursor_round_trip() -> None:
    cursor = Cursor("newest", {0: (3, -1), 1: None, 2: (0, 99)})
    text = encode_cursor(cursor)
    assert text == "0.3.0_1.x_2.0.100"
    assert decode_cursor(text, "newest") == cursor


def test_anything_else_is_not_a_cursor() -> None:
    from shared.readmodel import CursorError

    for text in ("", "0", "0.-1.2", "abc", "0.1.2_", "0.1.2 1.x"):
        with pytest.raises(CursorError):
            decode_cursor(text, "oldest")


def test_date_times_are_rfc3339_only() -> None:
    assert _instant("t", "2026-01-05T10:00:00Z") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert _instant("t", "2026-01-05T10:00:00.5+01:00") == datetime(
        2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC
    )
    assert _instant("t", "2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)
    for text in ("1700000000", "0.5", "2026-01-05", "2026-13-01T00:00:00Z"):
        with pytest.raises(ApiError):
            _instant("t", text)
