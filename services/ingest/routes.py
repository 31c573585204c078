"""The REST endpoints: commands become Kafka records, queries read the MongoDB read model."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Query, Request, Response
from pymongo import DESCENDING

from services.ingest import metrics
from services.ingest.errors import ApiError
from services.ingest.security import PrincipalDep
from services.ingest.upload import receive_upload
from shared.blobs import document_blob_key
from shared.events import (
    TERMINAL_STATUSES_READ_MODEL,
    AcceptedData,
    CancelRequested,
    DocumentAccepted,
    DocumentUploaded,
    UploadedData,
    UploadOptions,
)
from shared.ids import is_document_id, new_document_id
from shared.mongo import DOCUMENTS, public_view

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1")
SOURCE = "/docstream/ingest"


def _bool_field(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ApiError(422, "invalid_field", f"{name} must be true or false")


@router.post("/documents", status_code=202)
async def upload_document(request: Request, response: Response, who: PrincipalDep) -> Any:
    """Upload a document (multipart field ``file``); answers 202 once it is safely queued.

    Optional form fields: ``password`` (encrypted PDFs), ``analyze`` (default true),
    ``language`` (a hint for analysis).
    """
    state = request.app.state
    settings = state.settings
    document_id = new_document_id()
    key = document_blob_key(document_id, "original")
    try:
        upload = await receive_upload(
            request, state.blobs, key, max_bytes=settings.max_upload_bytes
        )
    except ApiError as exc:
        metrics.UPLOADS.labels(exc.reason).inc()
        raise
    if upload.blob.size == 0:
        await state.blobs.delete(key)
        metrics.UPLOADS.labels("empty_file").inc()
        raise ApiError(422, "empty_file", "the uploaded file is empty (0 bytes)")

    options = UploadOptions(
        analyze=_bool_field(upload.fields, "analyze", True),
        password=upload.fields.get("password") or None,
        language_hint=upload.fields.get("language") or None,
    )
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": who.owner,
        "generation": 1,
    }
    accepted = DocumentAccepted(
        **common,
        data=AcceptedData(
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.blob.size,
            sha256=upload.blob.sha256 or "",
        ),
    )
    work = DocumentUploaded(
        **common,
        data=UploadedData(
            filename=upload.filename,
            content_type=upload.content_type,
            blob=upload.blob,
            options=options,
        ),
    )
    try:
        # The lifecycle event first: it must be durable before the work is handed on.
        await asyncio.wait_for(
            state.producer.send(settings.topics.events, accepted), settings.publish_timeout_s
        )
        await asyncio.wait_for(
            state.producer.send(settings.topics.uploaded, work), settings.publish_timeout_s
        )
    except (KafkaError, TimeoutError) as exc:
        # Nothing half-done: without the work record nobody will ever read the blob.
        await state.blobs.delete(key)
        metrics.UPLOADS.labels("unavailable").inc()
        log.warning("publish failed", extra={"document_id": document_id, "error": repr(exc)})
        raise ApiError(
            503,
            "queue_unavailable",
            "the queue is unavailable; try again",
            headers={"Retry-After": "5"},
        ) from exc

    metrics.UPLOADS.labels("accepted").inc()
    metrics.UPLOAD_BYTES.inc(upload.blob.size)
    location = f"/v1/documents/{document_id}"
    response.headers["Location"] = location
    return {
        "id": document_id,
        "status": "accepted",
        "filename": upload.filename,
        "size": upload.blob.size,
        "sha256": upload.blob.sha256,
        "location": location,
        "ws_url": f"{settings.public_ws_url}/ws/documents/{document_id}",
    }


async def _owned(request: Request, document_id: str, owner: str) -> dict[str, Any]:
    if not is_document_id(document_id):
        raise ApiError(404, "not_found", "no such document")
    doc = await request.app.state.db[DOCUMENTS].find_one({"_id": document_id, "owner": owner})
    if doc is None:  # someone else's documents are as absent as missing ones
        raise ApiError(404, "not_found", "no such document")
    return dict(doc)


@router.get("/documents/{document_id}")
async def get_document(request: Request, document_id: str, who: PrincipalDep) -> Any:
    return public_view(await _owned(request, document_id, who.owner))


@router.get("/documents")
async def list_documents(
    request: Request,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(description="cursor: an id from a previous page")] = None,
) -> Any:
    query: dict[str, Any] = {"owner": who.owner}
    if before:
        if not is_document_id(before):
            raise ApiError(422, "invalid_cursor", "before must be a document id")
        query["_id"] = {"$lt": before}
    cursor = request.app.state.db[DOCUMENTS].find(query).sort("_id", DESCENDING).limit(limit)
    items = [public_view(doc) async for doc in cursor]
    return {"items": items, "next": items[-1]["id"] if len(items) == limit else None}


@router.post("/documents/{document_id}/cancel", status_code=202)
async def cancel_document(request: Request, document_id: str, who: PrincipalDep) -> Any:
    doc = await _owned(request, document_id, who.owner)
    if doc.get("status") in TERMINAL_STATUSES_READ_MODEL:
        raise ApiError(409, "already_finished", f"the document is already {doc['status']}")
    command = CancelRequested(
        source=SOURCE,
        subject=document_id,
        owner=who.owner,
        generation=int(doc.get("generation", 1)),
    )
    settings = request.app.state.settings
    try:
        await asyncio.wait_for(
            request.app.state.producer.send(settings.topics.commands, command),
            settings.publish_timeout_s,
        )
    except (KafkaError, TimeoutError) as exc:
        raise ApiError(
            503,
            "queue_unavailable",
            "the queue is unavailable; try again",
            headers={"Retry-After": "5"},
        ) from exc
    metrics.COMMANDS.labels("cancel").inc()
    return {"id": document_id, "status": "cancel_requested"}
