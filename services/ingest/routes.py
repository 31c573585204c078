"""The command side of the API: cancels and reprocesses become Kafka records (uploads are in
uploads.py). Both take an Idempotency-Key."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.ingest import metrics
from services.ingest.admissions import Answer, fingerprint
from services.ingest.errors import ApiError, problem_responses
from services.ingest.idempotency import IdempotencyKey, once
from services.ingest.queries import owned
from services.ingest.schemas import CancelAccepted, ReprocessAccepted
from services.ingest.security import PrincipalDep
from shared.blobs import document_blob_key
from shared.events import (
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
from shared.passwords import sealed_options

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1")
SOURCE = "/docstream/ingest"


@router.post(
    "/documents/{document_id}/cancel",
    status_code=202,
    response_model=CancelAccepted,
    responses=problem_responses(404, 409, 503),
)
async def cancel_document(
    request: Request, document_id: str, who: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Stop the document's processing (409 ``already_finished`` once it ended)."""

    async def run() -> Answer:
        return Answer(202, await _cancel(request, document_id, who.owner), {})

    print_ = fingerprint(f"POST /v1/documents/{document_id}/cancel")
    return await once(request.app.state.admissions, who.owner, idempotency_key, print_, run)


async def _cancel(request: Request, document_id: str, owner: str) -> dict[str, Any]:
    doc = await owned(request, document_id, owner)
    if doc.get("status") in TERMINAL_STATUSES_READ_MODEL:
        raise ApiError(409, "already_finished", f"the document is already {doc['status']}")
    command = CancelRequested(
        source=SOURCE,
        subject=document_id,
        owner=owner,
        generation=int(doc.get("generation", 1)),
    )
    await request.app.state.publisher.publish(
        [(request.app.state.settings.topics.commands, command)]
    )
    metrics.COMMANDS.labels("cancel").inc()
    return {"id": document_id, "status": "cancel_requested"}


class ReprocessBody(BaseModel):
    analysis_only: bool = False
    password: str | None = Field(None, max_length=1024)


@router.post(
    "/documents/{document_id}/reprocess",
    status_code=202,
    response_model=ReprocessAccepted,
    responses=problem_responses(400, 404, 409, 503, s400="malformed_body", s409="no_text"),
)
async def reprocess_document(
    request: Request,
    document_id: str,
    who: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
    body: ReprocessBody | None = None,
) -> Response:
    """Process the document again as a new generation; ``analysis_only`` reuses the text."""
    body = body or ReprocessBody()

    async def run() -> Answer:
        return Answer(202, await _reprocess(request, document_id, who.owner, body), {})

    print_ = fingerprint(
        f"POST /v1/documents/{document_id}/reprocess", body.model_dump_json(exclude={"password"})
    )
    return await once(request.app.state.admissions, who.owner, idempotency_key, print_, run)


async def _reprocess(
    request: Request, document_id: str, owner: str, body: ReprocessBody
) -> dict[str, Any]:
    doc = await owned(request, document_id, owner)
    if doc.get("duplicate_of"):
        raise ApiError(
            409,
            "linked_duplicate",
            "this document shows the results of an earlier copy; reprocess that one",
            duplicate_of=doc["duplicate_of"],
        )
    settings = request.app.state.settings
    current = int(doc.get("generation", 1))
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": owner,
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
                        options=sealed_options(
                            options,
                            settings.auth_secret.get_secret_value(),
                            document_id=document_id,
                        ),
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
