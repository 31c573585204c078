"""The peer's web app: ``uvicorn benchmarks.peers.celery_redis.web:app``.

``POST /documents`` saves the upload to disk, sends the Celery task and answers 202 with the
id; ``/ws/documents/{id}`` sends the stored state (as docstream's gateway sends its snapshot),
then the document's pub/sub messages until it ends.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from fastapi import FastAPI, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from benchmarks.peers.celery_redis.settings import TASK_NAME, TERMINAL, PeerSettings, channel
from shared.mongo import connect, public_view

SETTINGS = PeerSettings()
# A client only: the web process sends tasks by name and never imports the extraction code.
celery = Celery("docstream_peer", broker=SETTINGS.redis_url, backend=SETTINGS.redis_url)
celery.conf.update(task_serializer="json", broker_connection_retry_on_startup=True)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    SETTINGS.upload_dir.mkdir(parents=True, exist_ok=True)
    app.state.redis = aioredis.Redis.from_url(SETTINGS.redis_url)
    app.state.mongo = connect(SETTINGS.mongo_url, app_name="peer-web")
    try:
        yield
    finally:
        await app.state.redis.aclose()
        await app.state.mongo.close()


app = FastAPI(title="docstream peer (Celery + Redis)", lifespan=_lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/documents", status_code=202)
def upload(file: UploadFile) -> JSONResponse:
    # A plain function, run in the thread pool, as the seed's synchronous Django view was.
    document_id = uuid.uuid4().hex
    path = SETTINGS.upload_dir / f"{document_id}.bin"
    with path.open("wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    celery.send_task(TASK_NAME, args=[document_id, str(path)], task_id=document_id)
    return JSONResponse(
        {"id": document_id, "ws_url": f"/ws/documents/{document_id}"}, status_code=202
    )


@app.websocket("/ws/documents/{document_id}")
async def watch(websocket: WebSocket, document_id: str) -> None:
    await websocket.accept()
    pubsub = websocket.app.state.redis.pubsub()
    # Subscribed before the state is read: nothing published in between is missed.
    await pubsub.subscribe(channel(document_id))
    try:
        stored = await websocket.app.state.mongo[SETTINGS.mongo_database]["documents"].find_one(
            {"_id": document_id}
        )
        document = public_view(stored) if stored else None
        await websocket.send_json({"type": "snapshot", "document": document})
        if document is not None and document.get("status") in TERMINAL:
            return
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            data: dict[str, Any] = json.loads(message["data"])
            await websocket.send_json({"type": "progress", **data})
            if data.get("status") in TERMINAL:
                return
    except WebSocketDisconnect:
        pass
    finally:
        await pubsub.aclose()
        with contextlib.suppress(RuntimeError):
            await websocket.close(1000)
