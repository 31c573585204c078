"""Commands on the real pipeline: cancel in flight, reprocess (analysis only), bad requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration


async def _post(pipeline: Pipeline, path: str, owner: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{pipeline.api}{path}", headers=pipeline.headers(owner), **kwargs)  # type: ignore[arg-type]


async def test_cancel_stops_an_extraction_stuck_in_the_worker(pipeline: Pipeline) -> None:
    response = await pipeline.upload(
        None, "alice", data=b"DOCSTREAM-TEST-HOOK sleep 60\n", filename="stuck.txt"
    )
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "alice", {"extracting"}, timeout_s=30)
    watcher = asyncio.create_task(pipeline.watch(document_id, "alice", timeout_s=30))
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    cancel = await _post(pipeline, f"/v1/documents/{document_id}/cancel", "alice")
    assert cancel.status_code == 202
    messages, close_code = await watcher
    elapsed = asyncio.get_running_loop().time() - started
    assert close_code == 1000
    assert messages[-1]["event"]["type"] == "document.cancelled"
    assert elapsed < 5, f"cancel took {elapsed:.1f}s"
    doc = await pipeline.wait_for_status(document_id, "alice", {"cancelled"})
    assert doc["status"] == "cancelled"
    again = await _post(pipeline, f"/v1/documents/{document_id}/cancel", "alice")
    assert again.status_code == 409
    assert again.json()["reason"] == "already_finished"


async def test_reanalysis_reuses_the_text_as_a_new_generation(
    pipeline: Pipeline, corpus: Path
) -> None:
    response = await pipeline.upload(corpus / "pdf/issue-33-lorem-ipsum.pdf", "alice")
    document_id = response.json()["id"]
    first = await pipeline.wait_for_status(document_id, "alice", {"completed"})
    reprocess = await _post(
        pipeline, f"/v1/documents/{document_id}/reprocess", "alice", json={"analysis_only": True}
    )
    assert reprocess.status_code == 202
    assert reprocess.json()["generation"] == 2
    messages, close_code = await pipeline.watch(document_id, "alice", generation=2)
    assert close_code == 1000
    events = [m["event"] for m in messages if m["type"] == "event"]
    generation_2 = [e["type"] for e in events if e["generation"] == 2]
    if messages[0]["document"]["generation"] == 1:  # watched from before the new generation
        assert generation_2[-1] == "document.completed"
        assert "analysis.started" in generation_2
    assert "extraction.started" not in generation_2  # the text was reused, not extracted again
    doc = await pipeline.wait_for_status(document_id, "alice", {"completed"}, generation=2)
    assert doc["generation"] == 2
    assert doc["extraction"]["chars"] == first["extraction"]["chars"]
    assert doc["analysis"]["summary"]


def _stored_files(pipeline: Pipeline) -> set[Path]:
    return {p for p in pipeline.cfg.blob_dir.rglob("*") if p.is_file()}


async def test_bad_uploads_get_clear_reasons(pipeline: Pipeline) -> None:
    before = _stored_files(pipeline)
    async with httpx.AsyncClient(timeout=30) as client:
        url = f"{pipeline.api}/v1/documents"
        headers = pipeline.headers("alice")
        no_file = await client.post(
            url, headers=headers, data={"analyze": "true"}, files={"other": ("x.txt", b"x")}
        )
        assert no_file.status_code == 422
        assert no_file.json()["reason"] == "missing_file"
        not_multipart = await client.post(url, headers=headers, content=b"raw bytes")
        assert not_multipart.status_code == 415
        bad_flag = await client.post(
            url, headers=headers, data={"analyze": "maybe"}, files={"file": ("x.txt", b"some text")}
        )
        assert bad_flag.status_code == 422
        assert bad_flag.json()["reason"] == "invalid_field"
        too_big = await client.post(
            url, headers=headers, files={"file": ("big.bin", b"\0" * (9 * 2**20))}
        )
        assert too_big.status_code == 413
        assert too_big.json()["reason"] == "too_large"
    # Nothing of the refused uploads was kept (a bad form field after the file used to leave
    # the stored file behind).
    assert _stored_files(pipeline) == before
