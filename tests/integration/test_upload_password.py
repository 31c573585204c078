"""The password of an encrypted PDF on its way to the extractor: sealed on documents.uploaded
(never in plain text on any topic), opened by the extractor; a password it cannot open ends
the document ``password_unreadable``; a plain one written before sealing is still read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.auth import issue_token
from shared.blobs import document_blob_key
from shared.events import (
    CONTENT_TYPE,
    BlobRef,
    DocumentUploaded,
    UploadedData,
    UploadOptions,
    encode,
)
from shared.ids import new_document_id
from shared.passwords import sealed_options
from tests.integration.client import PREVIOUS_AUTH_SECRET, Pipeline, read_topic

pytestmark = pytest.mark.integration

PASSWORD = "test"  # the corpus's password-example.pdf


async def test_the_password_is_sealed_on_the_work_topic_and_the_pdf_opens(
    pipeline: Pipeline, corpus: Path
) -> None:
    response = await pipeline.upload(
        corpus / "pdf" / "password-example.pdf",
        "pat",
        fields={"password": PASSWORD, "analyze": "false", "duplicates": "process"},
    )
    assert response.status_code == 202, response.text
    document_id = response.json()["id"]
    done = await pipeline.wait_for_status(document_id, "pat", {"completed", "failed"})
    assert done["status"] == "completed", done.get("error")
    assert done["extraction"]["chars"] > 0
    assert done["password_given"] is True and "password" not in done["options"]

    # A reprocess takes the password again (it is never stored), sealed the same way.
    async with httpx.AsyncClient(timeout=10) as client:
        reprocess = await client.post(
            f"{pipeline.api}/v1/documents/{document_id}/reprocess",
            json={"password": PASSWORD},
            headers=pipeline.headers("pat"),
        )
    assert reprocess.status_code == 202, reprocess.text
    again = await pipeline.wait_for_status(
        document_id, "pat", {"completed", "failed"}, generation=2
    )
    assert again["status"] == "completed", again.get("error")

    key = document_id.encode()
    topics = pipeline.cfg.topics
    work = await read_topic(
        pipeline.cfg, topics.uploaded, lambda rs: sum(r.key == key for r in rs) >= 2
    )
    records = [json.loads(r.value) for r in work if r.key == key]
    assert [r["generation"] for r in records] == [1, 2]
    for record in records:
        options = record["data"]["options"]
        assert "password" not in options
        assert options["password_sealed"].startswith("v1.")
        assert PASSWORD not in options["password_sealed"]
    # Nowhere else either: the lifecycle and the state of the document carry no password.
    for topic in (topics.events, topics.status, topics.extracted):
        for r in await read_topic(pipeline.cfg, topic, lambda rs: False, timeout_s=2):
            if r.key == key and r.value is not None:
                assert b"password_sealed" not in r.value, topic
                assert json.loads(r.value)["data"].get("options", {}).get("password") is None


async def _publish_work(
    pipeline: Pipeline, corpus: Path, document_id: str, options: dict[str, Any]
) -> None:
    """A work record for a new document with these options, as a producer writes it raw."""
    blob_key = document_blob_key(document_id, "original")
    data = (corpus / "pdf" / "password-example.pdf").read_bytes()
    path = pipeline.cfg.blob_dir / blob_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    work = DocumentUploaded(
        source="/test",
        subject=document_id,
        owner="pat",
        generation=1,
        data=UploadedData(
            filename="password-example.pdf",
            content_type="application/pdf",
            blob=BlobRef(key=blob_key, size=len(data)),
        ),
    )
    value = json.loads(encode(work))
    value["data"]["options"] = options
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.cfg.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            pipeline.cfg.topics.uploaded,
            json.dumps(value).encode(),
            key=document_id.encode(),
            headers=[("content-type", CONTENT_TYPE.encode())],
        )
    finally:
        await producer.stop()


async def test_a_password_sealed_with_another_secret_fails_the_document_clearly(
    pipeline: Pipeline, corpus: Path
) -> None:
    document_id = new_document_id()
    # Sealed for this document, by an ingest whose DOCSTREAM_AUTH_SECRET is not the extractor's.
    foreign = sealed_options(
        UploadOptions(password=PASSWORD), "another-secret-" * 3, document_id=document_id
    )
    await _publish_work(
        pipeline,
        corpus,
        document_id,
        {"analyze": False, "password_sealed": foreign.password_sealed},
    )
    failed = await pipeline.wait_for_status(document_id, "pat", {"completed", "failed"})
    assert failed["status"] == "failed"
    assert failed["error"]["reason"] == "password_unreadable"
    assert failed["error"]["stage"] == "extraction"
    assert "DOCSTREAM_AUTH_SECRET" in failed["error"]["message"]


async def test_a_plain_password_written_before_sealing_is_still_read(
    pipeline: Pipeline, corpus: Path
) -> None:
    document_id = new_document_id()
    await _publish_work(pipeline, corpus, document_id, {"analyze": False, "password": PASSWORD})
    done = await pipeline.wait_for_status(document_id, "pat", {"completed", "failed"})
    assert done["status"] == "completed", done.get("error")


async def test_after_a_rotation_the_previous_secret_still_opens_passwords_and_tokens(
    pipeline: Pipeline, corpus: Path
) -> None:
    document_id = new_document_id()
    # Sealed by ingest before DOCSTREAM_AUTH_SECRET changed; the stack has the old secret in
    # DOCSTREAM_AUTH_PREVIOUS_SECRETS.
    before = sealed_options(
        UploadOptions(password=PASSWORD), PREVIOUS_AUTH_SECRET, document_id=document_id
    )
    await _publish_work(
        pipeline, corpus, document_id, {"analyze": False, "password_sealed": before.password_sealed}
    )
    done = await pipeline.wait_for_status(document_id, "pat", {"completed", "failed"})
    assert done["status"] == "completed", done.get("error")
    # A token minted before the rotation: still accepted by ingest...
    old_token = issue_token(PREVIOUS_AUTH_SECRET, "pat")
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(
            f"{pipeline.api}/v1/documents/{document_id}",
            headers={"Authorization": f"Bearer {old_token}"},
        )
        assert answer.status_code == 200
        assert answer.json()["status"] == "completed"
        # ... and by the gateway, whose stream of a finished document ends with it.
        stream = await client.get(
            f"{pipeline.ws.replace('ws://', 'http://')}/v1/documents/{document_id}/stream",
            params={"token": old_token},
        )
        assert stream.status_code == 200
        assert "completed" in stream.text
        forged = issue_token("a-secret-nobody-configured", "pat")
        refused = await client.get(
            f"{pipeline.api}/v1/documents/{document_id}",
            headers={"Authorization": f"Bearer {forged}"},
        )
        assert refused.status_code == 401
