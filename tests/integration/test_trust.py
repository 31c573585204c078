"""Nothing stuck, nothing lost, on the real pipeline: the watchdog re-drives a document whose
work record never arrived and fails one that stays stuck; reprocess keeps the upload's options
and stops the generation it replaces."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deploy.launcher import Stack
from shared.blobs import LocalBlobStore, document_blob_key
from shared.events import AcceptedData, DocumentAccepted, UploadOptions
from shared.ids import new_document_id
from shared.kafka import EventProducer
from tests.integration.client import Pipeline, read_topic
from tests.integration.conftest import _start, pipeline_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def impatient(infra: Stack) -> Iterator[Pipeline]:
    """A pipeline whose watchdog gives up quickly, so stalls show within seconds."""
    stack = Stack(
        pipeline_config(
            infra,
            DOCSTREAM_EXTRACTOR_WORKERS="2",
            DOCSTREAM_EXTRACTOR_TEST_HOOKS="1",
            DOCSTREAM_STATUS_WATCHDOG_INTERVAL_S="0.5",
            DOCSTREAM_STATUS_STALL_QUEUED_S="3",
            DOCSTREAM_STATUS_STALL_EXTRACTION_S="3",
            DOCSTREAM_STATUS_STALL_ANALYSIS_S="3",
            DOCSTREAM_STATUS_MAX_REDRIVES="1",
        )
    )
    try:
        asyncio.run(_start(stack))
        yield Pipeline(stack.cfg)
    finally:
        stack.stop()


async def test_a_document_whose_work_record_was_lost_is_redriven_and_completes(
    impatient: Pipeline,
) -> None:
    cfg = impatient.cfg
    document_id = new_document_id()
    text = b"A document whose work record never reached the extractor.\n"
    blob = await LocalBlobStore(cfg.blob_dir).write_bytes(
        document_blob_key(document_id, "original"), text
    )
    producer = EventProducer(cfg.bootstrap, client_id="test")
    await producer.start()
    try:
        # What an ingest that died between its two sends leaves: the document, no work.
        await producer.send(
            cfg.topics.events,
            DocumentAccepted(
                source="/test",
                subject=document_id,
                owner="alice",
                generation=1,
                data=AcceptedData(
                    filename="lost.txt",
                    size=blob.size,
                    sha256=blob.sha256 or "",
                    options=UploadOptions(analyze=False),
                ),
            ),
        )
    finally:
        await producer.stop()
    doc = await impatient.wait_for_status(document_id, "alice", {"completed"}, timeout_s=30)
    assert doc["redrives"] == 1
    assert doc["last_redrive"]["stage"] == "extraction"
    assert doc["extraction"]["chars"] == len(text.decode().strip()) or doc["extraction"]["chars"]
    assert "analysis" not in doc  # the upload's options rode along with the re-drive


async def _generation_events(pipeline: Pipeline, document_id: str, until: float) -> list[Any]:
    def mine(records: list[Any]) -> list[Any]:
        events = [json.loads(r.value or b"{}") for r in records]
        return [e for e in events if e.get("subject") == document_id]

    records = await read_topic(
        pipeline.cfg,
        pipeline.cfg.topics.events,
        lambda rs: any(e["type"] == "document.cancelled" for e in mine(rs)),
        timeout_s=until,
    )
    return mine(records)


async def test_reprocess_stops_the_generation_it_replaces_and_keeps_the_options(
    impatient: Pipeline,
) -> None:
    response = await impatient.upload(
        None,
        "alice",
        data=b"DOCSTREAM-TEST-HOOK sleep 2\n",
        filename="slow.txt",
        fields={"analyze": "false", "language": "fr"},
    )
    document_id = response.json()["id"]
    await impatient.wait_for_status(document_id, "alice", {"extracting"}, timeout_s=20)
    async with httpx.AsyncClient(timeout=10) as client:
        again = await client.post(
            f"{impatient.api}/v1/documents/{document_id}/reprocess",
            headers=impatient.headers("alice"),
        )
    assert again.status_code == 202
    events = await _generation_events(impatient, document_id, until=10)
    cancelled = [e for e in events if e["type"] == "document.cancelled"]
    assert cancelled and cancelled[0]["generation"] == 1
    doc = await impatient.wait_for_status(
        document_id, "alice", {"completed"}, generation=2, timeout_s=30
    )
    assert doc["generation"] == 2
    assert doc["options"] == {"analyze": False, "language_hint": "fr"}
    assert "analysis" not in doc  # analyze=false held for the new generation too


# Last: its stuck extractions hold both workers for a while.
async def test_a_document_that_stays_stuck_fails_as_stalled(impatient: Pipeline) -> None:
    response = await impatient.upload(
        None, "alice", data=b"DOCSTREAM-TEST-HOOK sleep 15\n", filename="stuck.txt"
    )
    document_id = response.json()["id"]
    doc = await impatient.wait_for_status(document_id, "alice", {"failed"}, timeout_s=30)
    assert doc["error"]["reason"] == "stalled"
    assert doc["redrives"] == 1
    # The stuck extractions finishing later cannot undo the terminal state.
    await asyncio.sleep(0.5)
    assert (await impatient.get(document_id, "alice")).json()["status"] == "failed"
