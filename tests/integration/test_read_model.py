"""The read model's outside faces on the real pipeline: the compacted documents.status topic,
and delete (records, files, tombstones; 404 everywhere afterwards)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from shared.blobs import document_blob_prefix
from shared.readmodel import content_pointer_id
from tests.integration.client import Pipeline, read_topic

pytestmark = pytest.mark.integration


async def _latest_per_key(pipeline: Pipeline, key: str, *, wait_for: Any) -> Any:
    """The latest record of ``key`` on documents.status once ``wait_for(value)`` holds."""

    def latest(records: list[Any]) -> Any:
        values = [r.value for r in records if r.key == key.encode()]
        if not values:
            return "missing"
        return None if values[-1] is None else json.loads(values[-1])

    records = await read_topic(
        pipeline.cfg, pipeline.cfg.topics.status, lambda rs: bool(wait_for(latest(rs)))
    )
    value = latest(records)
    assert wait_for(value), f"documents.status never showed what was expected; last {value!r}"
    return value


async def test_the_status_topic_carries_each_documents_latest_state(pipeline: Pipeline) -> None:
    response = await pipeline.upload(
        None,
        "alice",
        data=b"State for downstream systems.\n",
        filename="state.txt",
        fields={"analyze": "false"},
    )
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "alice", {"completed"})
    state = await _latest_per_key(
        pipeline,
        document_id,
        wait_for=lambda v: isinstance(v, dict) and v["data"]["state"]["status"] == "completed",
    )
    assert state["type"] == "document.updated"
    assert state["data"]["state"]["id"] == document_id
    assert state["data"]["state"]["filename"] == "state.txt"
    assert "_log" not in state["data"]["state"]


async def test_a_linked_duplicates_state_is_what_get_shows(pipeline: Pipeline) -> None:
    """README: documents.status holds each document's latest state *as GET shows it*; a
    linked duplicate shows its original's extraction, analysis and text there too."""
    data = b"The same bytes twice: the second upload is linked to the first.\n"
    first = await pipeline.upload(None, "linda", data=data, filename="first.txt")
    original = first.json()["id"]
    await pipeline.wait_for_status(original, "linda", {"completed"})
    second = await pipeline.upload(None, "linda", data=data, filename="second.txt")
    copy = second.json()["id"]
    assert second.json()["duplicate_of"] == original
    shown = await pipeline.wait_for_status(copy, "linda", {"completed"})
    assert {"extraction", "analysis", "text_blob"} <= shown.keys()
    state = await _latest_per_key(
        pipeline,
        copy,
        wait_for=lambda v: isinstance(v, dict) and v["data"]["state"]["status"] == "completed",
    )
    published = state["data"]["state"]
    for key in ("duplicate_of", "extraction", "analysis", "text_blob", "filename"):
        assert published.get(key) == shown[key], key


async def test_delete_removes_everything_and_the_id_is_gone_everywhere(pipeline: Pipeline) -> None:
    response = await pipeline.upload(
        None,
        "alice",
        data=b"Delete me, please.\n",
        filename="gone.txt",
        fields={"analyze": "false"},
    )
    document_id = response.json()["id"]
    await pipeline.wait_for_status(document_id, "alice", {"completed"})
    pointer = {"_id": content_pointer_id("alice", response.json()["sha256"])}
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(pipeline.cfg.mongo_url)
    admissions = mongo[pipeline.cfg.mongo_database]["admissions"]
    found = await admissions.find_one(pointer)
    assert found is not None and found["document_id"] == document_id
    folder = pipeline.cfg.blob_dir / document_blob_prefix(document_id)
    assert any(folder.iterdir())  # the upload and its text are stored
    async with httpx.AsyncClient(timeout=10) as client:
        url = f"{pipeline.api}/v1/documents/{document_id}"
        other = await client.delete(url, headers=pipeline.headers("mallory"))
        assert other.status_code == 404  # someone else's document cannot be deleted
        deleted = await client.delete(url, headers=pipeline.headers("alice"))
        assert deleted.status_code == 204
        for _ in range(100):
            if (await client.get(url, headers=pipeline.headers("alice"))).status_code == 404:
                break
            await asyncio.sleep(0.1)
        assert (await client.get(url, headers=pipeline.headers("alice"))).status_code == 404
        again = await client.delete(url, headers=pipeline.headers("alice"))
        assert again.status_code == 404
        listed = await client.get(f"{pipeline.api}/v1/documents", headers=pipeline.headers("alice"))
        assert document_id not in [item["id"] for item in listed.json()["items"]]
        text = await client.get(f"{url}/text", headers=pipeline.headers("alice"))
        assert text.status_code == 404
    assert not folder.exists()  # the files went with it
    assert await admissions.find_one(pointer) is None  # new copies are not linked to it
    await mongo.close()
    assert await _latest_per_key(pipeline, document_id, wait_for=lambda v: v is None) is None
    messages, close_code = await pipeline.watch(document_id, "alice", timeout_s=10)
    assert close_code == 4404
    assert messages[-1] == {"type": "error", "reason": "not_found"}


async def test_rebuild_refolds_the_same_read_model_and_switches_to_it(pipeline: Pipeline) -> None:
    from pymongo import AsyncMongoClient

    from services.status.rebuild import rebuild
    from services.status.settings import StatusSettings
    from shared.readmodel import read_pointer

    ids = []
    for i in range(4):
        response = await pipeline.upload(
            None,
            "rita",
            data=f"Rebuild me, number {i}.\n".encode(),
            filename=f"r{i}.txt",
            fields={"analyze": "false"},
        )
        ids.append(response.json()["id"])
    for document_id in ids:
        await pipeline.wait_for_status(document_id, "rita", {"completed"})
    cfg = pipeline.cfg
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cfg.mongo_url, tz_aware=True)
    settings = StatusSettings(
        auth_secret=cfg.ensure_secret(),
        kafka_bootstrap_servers=cfg.bootstrap,
        mongo_url=cfg.mongo_url,
        mongo_database=cfg.mongo_database,
        topic_prefix=cfg.topic_prefix,
    )
    try:
        live_db = (await read_pointer(client, cfg.mongo_database)).database
        # The live service keeps folding while the rebuild runs.
        report = await rebuild(settings, hold_timeout_s=60)
        assert report.switched and report.previous == live_db
        assert report.documents >= len(ids)
        live = {d["_id"]: d async for d in client[live_db]["documents"].find({})}
        rebuilt = {d["_id"]: d async for d in client[report.database]["documents"].find({})}
        assert set(rebuilt) == set(live)
        for document_id, doc in live.items():
            # Where a summary sits in its bucket depends on which documents shared a batch
            # (the live fold and the rebuild batch differently); everything else is equal.
            mine = {k: v for k, v in rebuilt[document_id].items() if k != "_listing"}
            assert mine == {k: v for k, v in doc.items() if k != "_listing"}, document_id
        for owner in {d["owner"] for d in live.values()}:
            assert await _listed(client[report.database], owner) == await _listed(
                client[live_db], owner
            )
        pointer = await read_pointer(client, cfg.mongo_database)
        assert pointer.database == report.database and pointer.ready
        # The services follow: a new document lands in the rebuilt database and is served.
        await asyncio.sleep(3)  # the readers' refresh period
        response = await pipeline.upload(
            None,
            "rita",
            data=b"After the switch.\n",
            filename="after.txt",
            fields={"analyze": "false"},
        )
        after = response.json()["id"]
        await pipeline.wait_for_status(after, "rita", {"completed"})
        assert await client[report.database]["documents"].find_one({"_id": after}) is not None
        listed = await _list_ids(pipeline, "rita")
        assert set(listed) == {*ids, after}
    finally:
        await client.close()


async def _list_ids(pipeline: Pipeline, owner: str) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{pipeline.api}/v1/documents", headers=pipeline.headers(owner))
    return [item["id"] for item in response.json()["items"]]


async def _listed(db: Any, owner: str) -> dict[str, Any]:
    """Every summary of ``owner`` in the listings, by document id."""
    found: dict[str, Any] = {}
    async for bucket in db["listings"].find({"owner": owner, "entries": {"$exists": True}}):
        for entry in bucket["entries"]:
            found[entry["id"]] = entry
    return found
