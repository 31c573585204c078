"""The Celery + Redis peer processes one document end to end: the web app takes the upload,
a prefork worker extracts and analyses it, its WebSocket tells the end, MongoDB holds it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

pytest.importorskip("celery", reason="the peer needs the bench extra: pip install -e '.[bench]'")
if shutil.which("redis-server") is None:
    pytest.skip("redis-server is missing: make redis-deps", allow_module_level=True)

from pymongo import MongoClient

from benchmarks.bench_pipeline import ONE_PAGE, Side, measure_latency
from benchmarks.peers.celery_redis.stack import PeerStack


async def test_the_peer_processes_a_document(mongo_url: str, corpus: Path, tmp_path: Path) -> None:
    database = f"peer_{uuid.uuid4().hex[:8]}"
    peer = PeerStack(tmp_path, mongo_url, database=database, workers=1)
    await peer.start()
    try:
        side = Side("peer", f"{peer.api}/documents", lambda d: f"{peer.ws_base}/ws/documents/{d}")
        (sample,) = await measure_latency(
            side, (corpus / ONE_PAGE).read_bytes(), warmup=0, samples=1
        )
    finally:
        peer.stop()
    # The end came as the seed published it (earlier steps may precede the WebSocket).
    assert "progress_100" in sample.marks
    with MongoClient(mongo_url) as client:
        (stored,) = list(client[database]["documents"].find())
    assert stored["status"] == "completed"
    assert stored["pages"] == 1
    assert stored["analysis"]["summary"]
