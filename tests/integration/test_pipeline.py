"""End to end on the real Kafka and FerretDB: upload, watch live, read the result."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.client import Pipeline

pytestmark = pytest.mark.integration

LIFECYCLE = [
    "document.accepted",
    "extraction.started",
    "extraction.completed",
    "analysis.started",
    "analysis.completed",
    "document.completed",
]


def _types(messages: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [m["event"]["type"] for m in messages if m["type"] == "event"]


@pytest.mark.parametrize(
    ("relative", "language", "phrase"),
    [
        ("pdf/federal-register-2020-17221.pdf", "en", "FEDERAL REGISTER"),
        ("docx/test.docx", None, None),
    ],
)
async def test_upload_is_processed_live_and_readable(
    pipeline: Pipeline, corpus: Path, relative: str, language: str | None, phrase: str | None
) -> None:
    path = corpus / relative
    response = await pipeline.upload(path, "alice")
    assert response.status_code == 202, response.text
    body = response.json()
    document_id = body["id"]
    assert response.headers["location"] == f"/v1/documents/{document_id}"
    assert body["ws_url"].endswith(f"/ws/documents/{document_id}")
    assert body["size"] == path.stat().st_size

    messages, close_code = await pipeline.watch(document_id, "alice")
    assert close_code == 1000
    assert messages[0]["type"] == "snapshot"
    seen = _types(messages)
    # Whatever the snapshot already covered is not repeated; the rest arrives in order.
    assert seen[-1] == "document.completed"
    remaining = [t for t in seen if not t.endswith(".progressed")]
    assert remaining == LIFECYCLE[len(LIFECYCLE) - len(remaining) :]
    positions = [m["position"]["offset"] for m in messages if m["type"] == "event"]
    assert positions == sorted(set(positions)), "events out of order or repeated"
    progress = [
        m["event"]["data"]
        for m in messages
        if m["type"] == "event" and m["event"]["type"] == "extraction.progressed"
    ]
    done = [p["done"] for p in progress]
    assert done == sorted(done)
    if progress:
        assert progress[-1]["done"] == progress[-1]["total"]

    doc = await pipeline.wait_for_status(document_id, "alice", {"completed"})
    extraction = doc["extraction"]
    assert extraction["chars"] > 0
    assert extraction["words"] > 0
    if relative.endswith(".pdf"):
        assert extraction["pages"] == 15
        assert extraction["language"] == language
    analysis = doc["analysis"]
    assert analysis["summary"]
    assert analysis["sentiment"]["label"] in {"positive", "negative", "neutral", "mixed"}
    assert doc["owner"] == "alice"
    assert doc["sha256"] == body["sha256"]
    if phrase:
        text = (pipeline.cfg.blob_dir / doc["text_blob"]["key"]).read_text()
        assert phrase in text


async def test_watching_a_finished_document_gives_its_final_snapshot(
    pipeline: Pipeline, corpus: Path
) -> None:
    response = await pipeline.upload(corpus / "pdf/scotus-transcript-p1.pdf", "alice")
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "alice", {"completed"})
    messages, close_code = await pipeline.watch(document_id, "alice")
    assert close_code == 1000
    assert len(messages) == 1
    assert messages[0]["document"]["status"] == "completed"


async def test_a_broken_file_fails_with_a_reason(pipeline: Pipeline) -> None:
    response = await pipeline.upload(
        None, "alice", data=b"%PDF-1.7\n" + b"\x00garbage" * 50, filename="broken.pdf"
    )
    assert response.status_code == 202
    document_id = response.json()["id"]
    messages, close_code = await pipeline.watch(document_id, "alice")
    assert close_code == 1000
    assert _types(messages)[-1] == "document.failed"
    doc = await pipeline.wait_for_status(document_id, "alice", {"failed"})
    assert doc["error"]["reason"] == "corrupt"
    assert doc["error"]["stage"] == "extraction"


async def test_empty_upload_is_refused(pipeline: Pipeline, corpus: Path) -> None:
    response = await pipeline.upload(corpus / "pdf/empty.pdf", "alice")
    assert response.status_code == 422
    assert response.json()["reason"] == "empty_file"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_table_too_big_for_one_record_travels_by_reference(pipeline: Pipeline) -> None:
    rows = "\n".join(f"{i},item number {i},{i * 3.5:.2f}" for i in range(40_000))
    response = await pipeline.upload(
        None, "alice", data=f"id,name,price\n{rows}\n".encode(), filename="big.csv"
    )
    assert response.status_code == 202
    doc = await pipeline.wait_for_status(response.json()["id"], "alice", {"completed", "failed"})
    assert doc["status"] == "completed", doc.get("error")
    assert doc["extraction"]["detected_type"] == "text/csv"
    assert doc["extraction"]["tables"] == 1
    extras = list(pipeline.cfg.blob_dir.rglob("extras-g1.json"))
    assert len(extras) == 1  # the rows went to blob storage, not into Kafka


async def test_a_scanned_pdf_is_read_by_ocr_with_per_page_info(
    pipeline: Pipeline, corpus: Path
) -> None:
    response = await pipeline.upload(
        corpus / "pdf/francais.pdf", "alice", fields={"ocr_languages": "fra", "analyze": "false"}
    )
    assert response.status_code == 202, response.text
    doc = await pipeline.wait_for_status(response.json()["id"], "alice", {"completed", "failed"})
    assert doc["status"] == "completed", doc.get("error")
    (page,) = doc["extraction"]["page_info"]
    assert page["extractor"] == "ocr" and page["ocr_confidence"] > 0.8
    assert page["chars"] > 300 and "no text layer" in page["warnings"]
    text = (pipeline.cfg.blob_dir / doc["text_blob"]["key"]).read_text()
    assert "Portez ce vieux whisky au juge" in text
    bad = await pipeline.upload(corpus / "pdf/francais.pdf", "alice", fields={"ocr_languages": "x"})
    assert bad.status_code == 422
