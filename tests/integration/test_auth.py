"""Every endpoint needs a credential; a user never sees another user's documents."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration


async def test_rest_refuses_missing_and_forged_credentials(pipeline: Pipeline) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        missing = await client.post(f"{pipeline.api}/v1/documents", files={"file": ("a.txt", b"x")})
        assert missing.status_code == 401
        assert missing.json()["reason"] == "missing_credentials"
        forged = pipeline.token("alice")[:-3] + "AAA"
        bad = await client.get(
            f"{pipeline.api}/v1/documents", headers={"Authorization": f"Bearer {forged}"}
        )
        assert bad.status_code == 401
        assert bad.json()["reason"] == "bad_signature"
        other_secret = await client.get(
            f"{pipeline.api}/v1/documents",
            headers={"Authorization": "Bearer ds1.alice.0.c2lnbmVkLWJ5LXNvbWVvbmUtZWxzZQ"},
        )
        assert other_secret.status_code == 401


async def test_other_users_documents_are_not_found(pipeline: Pipeline, corpus: Path) -> None:
    response = await pipeline.upload(corpus / "pdf/issue-33-lorem-ipsum.pdf", "alice")
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "alice", {"completed"})

    as_bob = await pipeline.get(document_id, "bob")
    assert as_bob.status_code == 404
    assert as_bob.json()["reason"] == "not_found"
    listing = await _list(pipeline, "bob")
    assert document_id not in {d["id"] for d in listing}
    assert document_id in {d["id"] for d in await _list(pipeline, "alice")}

    messages, close_code = await pipeline.watch(document_id, "bob")
    assert close_code == 4404
    assert messages == [{"type": "error", "reason": "not_found"}]


async def test_websocket_refuses_missing_and_bad_tokens(pipeline: Pipeline) -> None:
    messages, close_code = await pipeline.watch("0" * 32, None)
    assert close_code == 4401
    assert messages[0]["reason"] == "missing_credentials"
    messages, close_code = await pipeline.watch("0" * 32, None, token="ds1.alice.0.nope")
    assert close_code == 4401
    assert messages[0]["reason"] == "bad_signature"


async def _list(pipeline: Pipeline, owner: str) -> list[dict]:  # type: ignore[type-arg]
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{pipeline.api}/v1/documents", headers=pipeline.headers(owner))
    assert response.status_code == 200
    return list(response.json()["items"])
