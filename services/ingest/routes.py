"""The command side of the API: uploads, cancels and reprocesses become Kafka records."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.ingest import metrics
from services.ingest.errors import ApiError
from services.ingest.queries import owned
from services.ingest.security import PrincipalDep
from services.ingest.upload import ParsedUpload, receive_upload
from shared.blobs import document_blob_key
from shared.events import (
    OCR_LANGUAGES_PATTERN,
    TERMINAL_STATUSES_READ_MODEL,
    AcceptedData,
    BlobRef,
    CancelRequested,
    DocumentAccepted,
    DocumentExtracted,
    DocumentUploaded,
    Envelope,
    ExtractedData,
    ExtractionCompleted,
    ExtractionCompletedData,
    ExtractionMetadata,
    UploadedData,
    UploadOptions,
)
from shared.ids import new_document_id

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


def _upload_options(upload: ParsedUpload) -> UploadOptions:
    if upload.blob.size == 0:
        raise ApiError(422, "empty_file", "the uploaded file is empty (0 bytes)")
    return UploadOptions(
        analyze=_bool_field(upload.fields, "analyze", True),
        password=upload.fields.get("password") or None,
        language_hint=upload.fields.get("language") or None,
        ocr_languages=_ocr_languages(upload.fields.get("ocr_languages") or None),
    )


def _ocr_languages(raw: str | None) -> str | None:
    if raw is not None and not re.fullmatch(OCR_LANGUAGES_PATTERN, raw):
        raise ApiError(422, "invalid_field", "ocr_languages must be like eng or eng+fra")
    return raw


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
    try:
        options = _upload_options(upload)
    except ApiError as exc:
        # Refused after the bytes were stored: nothing may stay behind.
        await state.blobs.delete(key)
        metrics.UPLOADS.labels(exc.reason).inc()
        raise
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
            options=options.model_copy(update={"password": None}),
            password_given=options.password is not None,
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
        # The lifecycle event first: the document is known before any stage can speak of it.
        await state.publisher.publish(
            [(settings.topics.events, accepted), (settings.topics.uploaded, work)], blob_key=key
        )
    except ApiError:
        metrics.UPLOADS.labels("unavailable").inc()
        log.warning("publish failed", extra={"document_id": document_id})
        raise

    metrics.UPLOADS.labels("accepted").inc()
    metrics.UPLOAD_BYTES.inc(upload.blob.size)
    metrics.UPLOAD_SIZE.observe(upload.blob.size)
    log.info("upload accepted", extra={"document_id": document_id, "size": upload.blob.size})
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


@router.post("/documents/{document_id}/cancel", status_code=202)
async def cancel_document(request: Request, document_id: str, who: PrincipalDep) -> Any:
    doc = await owned(request, document_id, who.owner)
    if doc.get("status") in TERMINAL_STATUSES_READ_MODEL:
        raise ApiError(409, "already_finished", f"the document is already {doc['status']}")
    command = CancelRequested(
        source=SOURCE,
        subject=document_id,
        owner=who.owner,
        generation=int(doc.get("generation", 1)),
    )
    await request.app.state.publisher.publish(
        [(request.app.state.settings.topics.commands, command)]
    )
    metrics.COMMANDS.labels("cancel").inc()
    return {"id": document_id, "status": "cancel_requested"}


class ReprocessBody(BaseModel):
    analysis_only: bool = False
    password: str | None = None


@router.post("/documents/{document_id}/reprocess", status_code=202)
async def reprocess_document(
    request: Request, document_id: str, who: PrincipalDep, body: ReprocessBody | None = None
) -> Any:
    """Process the document again as a new generation; ``analysis_only`` reuses the text."""
    body = body or ReprocessBody()
    doc = await owned(request, document_id, who.owner)
    settings = request.app.state.settings
    current = int(doc.get("generation", 1))
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": who.owner,
        "generation": current + 1,
    }
    # The same options as the upload asked for (the password is never stored: a new one may
    # come with the request).
    options = UploadOptions.model_validate(doc.get("options") or {}).model_copy(
        update={"password": body.password}
    )
    records: list[tuple[str, Envelope]] = []
    if doc.get("status") not in TERMINAL_STATUSES_READ_MODEL:
        # The generation still running is replaced: stop it rather than let it finish unseen.
        cancel = CancelRequested(**{**common, "generation": current})
        records.append((settings.topics.commands, cancel))
    if body.analysis_only:
        if "extraction" not in doc or "text_blob" not in doc:
            raise ApiError(409, "no_text", "the document has no extracted text to analyse again")
        metadata = ExtractionMetadata.model_validate(doc["extraction"])
        text_blob = BlobRef.model_validate(doc["text_blob"])
        records += [
            (
                settings.topics.events,
                ExtractionCompleted(
                    **common, data=ExtractionCompletedData(metadata=metadata, text_blob=text_blob)
                ),
            ),
            (
                settings.topics.extracted,
                DocumentExtracted(
                    **common,
                    data=ExtractedData(
                        metadata=metadata,
                        text_blob=text_blob,
                        options=options.model_copy(update={"password": None}),
                    ),
                ),
            ),
        ]
    else:
        key = document_blob_key(document_id, "original")
        if not await request.app.state.blobs.exists(key):
            raise ApiError(409, "blob_missing", "the original file is no longer stored")
        blob = BlobRef(key=key, size=int(doc.get("size", 0)), sha256=doc.get("sha256"))
        filename = str(doc.get("filename") or "document")
        records += [
            (
                settings.topics.events,
                DocumentAccepted(
                    **common,
                    data=AcceptedData(
                        filename=filename,
                        content_type=doc.get("content_type"),
                        size=blob.size,
                        sha256=blob.sha256 or "",
                        options=options.model_copy(update={"password": None}),
                        password_given=options.password is not None,
                    ),
                ),
            ),
            (
                settings.topics.uploaded,
                DocumentUploaded(
                    **common,
                    data=UploadedData(
                        filename=filename,
                        content_type=doc.get("content_type"),
                        blob=blob,
                        options=options,
                    ),
                ),
            ),
        ]
    await request.app.state.publisher.publish(records)
    metrics.COMMANDS.labels("reprocess_analysis" if body.analysis_only else "reprocess").inc()
    generation = common["generation"]
    return {
        "id": document_id,
        "status": "reprocess_requested",
        "generation": generation,
        "ws_url": f"{settings.public_ws_url}/ws/documents/{document_id}?generation={generation}",
    }
