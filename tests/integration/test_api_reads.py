"""The read side on the real pipeline: one document, lists (filters, both orders, cursor
paging), the processing log, the text with ranges, stats; bad input and other users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

OWNER = "reader"
COUNT = 25


@pytest.fixture(scope="module")
async def documents(pipeline: Pipeline) -> AsyncIterator[list[str]]:
    """25 finished text documents of one owner (every fifth a "report"), oldest first."""
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(COUNT):
            name = f"report-{i:02d}.txt" if i % 5 == 0 else f"note-{i:02d}.txt"
            response = await client.post(
                f"{pipeline.api}/v1/documents",
                headers=pipeline.headers(OWNER),
                files={"file": (name, f"Text number {i}. " * (i + 1) + "\n")},
                data={"analyze": "false"},
            )
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
    for document_id in ids:
        await pipeline.wait_for_status(document_id, OWNER, {"completed"})
    yield ids


async def _get(
    pipeline: Pipeline,
    path: str,
    owner: str = OWNER,
    *,
    params: Any = None,
    headers_extra: dict[str, str] | None = None,
) -> httpx.Response:
    headers = {**pipeline.headers(owner), **(headers_extra or {})}
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"{pipeline.api}{path}", headers=headers, params=params)


async def _walk(pipeline: Pipeline, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await _get(pipeline, "/v1/documents", params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor does not move on"


async def test_paging_both_orders_gives_every_document_once(
    pipeline: Pipeline, documents: list[str]
) -> None:
    for order in ("newest", "oldest"):
        pages = await _walk(pipeline, limit=7, order=order)
        assert [len(p) for p in pages][:3] == [7, 7, 7]
        ids = [item["id"] for page in pages for item in page]
        assert len(ids) == len(set(ids)) == COUNT
        assert set(ids) == set(documents)


async def test_lists_are_sorted_by_creation(pipeline: Pipeline, documents: list[str]) -> None:
    for order in ("newest", "oldest"):
        pages = await _walk(pipeline, limit=7, order=order)
        created = [item["created_at"] for page in pages for item in page]
        assert created == sorted(created, reverse=order == "newest")


async def test_filters(pipeline: Pipeline, documents: list[str]) -> None:
    reports = [item for page in await _walk(pipeline, filename="REPORT", limit=2) for item in page]
    assert sorted(item["id"] for item in reports) == sorted(documents[::5])
    done = [item for page in await _walk(pipeline, status="completed") for item in page]
    assert len(done) == COUNT
    assert await _walk(pipeline, status=["failed", "cancelled"]) == [[]]
    texts = [item for page in await _walk(pipeline, detected_type="text/plain") for item in page]
    assert len(texts) == COUNT
    first = await _get(pipeline, f"/v1/documents/{documents[0]}")
    later = [
        item
        for page in await _walk(pipeline, created_from=first.json()["created_at"], order="oldest")
        for item in page
    ]
    assert later[0]["id"] == documents[0]
    assert len(later) == COUNT


async def test_list_refuses_bad_input(pipeline: Pipeline, documents: list[str]) -> None:
    for params in (
        {"status": "sleeping"},
        {"limit": 0},
        {"limit": 201},
        {"order": "sideways"},
        {"cursor": "not a cursor"},
        {"created_from": "yesterday"},
        {"created_to": "1700000000"},
    ):
        response = await _get(pipeline, "/v1/documents", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["reason"] in {"invalid_request", "invalid_field", "invalid_cursor"}


async def test_someone_elses_documents_are_404_and_unlisted(
    pipeline: Pipeline, documents: list[str]
) -> None:
    for suffix in ("", "/log", "/text"):
        response = await _get(pipeline, f"/v1/documents/{documents[0]}{suffix}", owner="intruder")
        assert response.status_code == 404, suffix
        assert response.json()["reason"] == "not_found"
    missing = await _get(pipeline, "/v1/documents/not-an-id")
    assert missing.status_code == 404
    theirs = await _get(pipeline, "/v1/documents", owner="intruder")
    assert theirs.json() == {"items": [], "next": None}


async def test_log_pages(pipeline: Pipeline, documents: list[str]) -> None:
    path = f"/v1/documents/{documents[3]}/log"
    whole = (await _get(pipeline, path, params={"limit": 500})).json()
    assert whole["next"] is None
    types = [entry["type"] for entry in whole["items"]]
    assert types[0] == "document.accepted"
    assert types[-1] == "document.completed"
    collected: list[dict[str, Any]] = []
    after = -1
    while True:
        page = (await _get(pipeline, path, params={"limit": 2, "after": after})).json()
        collected += page["items"]
        if page["next"] is None:
            break
        after = page["next"]
    assert collected == whole["items"]
    bad = await _get(pipeline, path, params={"after": -2})
    assert bad.status_code == 422


async def test_text_and_ranges(pipeline: Pipeline, documents: list[str]) -> None:
    path = f"/v1/documents/{documents[4]}/text"
    whole = await _get(pipeline, path)
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "text/plain; charset=utf-8"
    assert whole.text.startswith("Text number 4.")
    size = len(whole.content)
    part = await _get(pipeline, path, headers_extra={"Range": "bytes=5-10"})
    assert part.status_code == 206
    assert part.content == whole.content[5:11]
    assert part.headers["content-range"] == f"bytes 5-10/{size}"
    tail = await _get(pipeline, path, headers_extra={"Range": "bytes=-4"})
    assert tail.content == whole.content[-4:]
    beyond = await _get(pipeline, path, headers_extra={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["reason"] == "range_not_satisfiable"
    # A resumed download: the rest, while the text is the one the first part came from.
    etag = whole.headers["etag"]
    rest = await _get(pipeline, path, headers_extra={"Range": "bytes=11-", "If-Range": etag})
    assert (rest.status_code, rest.content) == (206, whole.content[11:])
    moved = await _get(pipeline, path, headers_extra={"Range": "bytes=11-", "If-Range": '"x"'})
    assert (moved.status_code, moved.content) == (200, whole.content)
    unchanged = await _get(pipeline, path, headers_extra={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", etag)


async def test_stats_add_up(pipeline: Pipeline, documents: list[str]) -> None:
    stats = (await _get(pipeline, "/v1/stats")).json()
    assert stats["documents"] == COUNT
    assert stats["by_status"] == {"completed": COUNT}
    chars = 0
    for document_id in documents:
        chars += (await _get(pipeline, f"/v1/documents/{document_id}")).json()["extraction"][
            "chars"
        ]
    assert stats["chars"] == chars
    assert stats["pages"] == COUNT  # one page per text document
    assert stats["input_tokens"] == stats["output_tokens"] == 0  # analyze=false
    empty = (await _get(pipeline, "/v1/stats", owner="nobody")).json()
    assert empty["documents"] == 0 and empty["by_status"] == {}


async def test_requests_without_a_token_are_401(pipeline: Pipeline) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for path in ("/v1/documents", "/v1/stats"):
            response = await client.get(f"{pipeline.api}{path}")
            assert response.status_code == 401
            assert response.json()["reason"] == "missing_credentials"
