"""DELETE /v1/documents/{id}: the document, its records and its files go.

Published as facts, like every command: a cancel for the generation in flight (the stages stop
working on it) and ``document.deleted`` on documents.events. The status service turns the
document into a tombstone (its id answers 404 from then on, the WebSocket included), removes
its files and writes a tombstone on the compacted documents.status topic.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.ingest import metrics
from services.ingest.admissions import Answer, fingerprint
from services.ingest.errors import problem_responses
from services.ingest.idempotency import IdempotencyKey, once
from services.ingest.queries import owned
from services.ingest.security import PrincipalDep
from shared.events import TERMINAL_STATUSES_READ_MODEL, CancelRequested, DocumentDeleted, Envelope

router = APIRouter(prefix="/v1")
SOURCE = "/docstream/ingest"


@router.delete(
    "/documents/{document_id}",
    status_code=204,
    responses=problem_responses(404, 503),
)
async def delete_document(
    request: Request, document_id: str, who: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Delete the document; it answers 404 within a moment (once the read model has it)."""

    async def run() -> Answer:
        await _delete(request, document_id, who.owner)
        return Answer(204, None, {})

    print_ = fingerprint(f"DELETE /v1/documents/{document_id}")
    return await once(request.app.state.admissions, who.owner, idempotency_key, print_, run)


async def _delete(request: Request, document_id: str, owner: str) -> None:
    doc = await owned(request, document_id, owner)
    settings = request.app.state.settings
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": owner,
        "generation": int(doc.get("generation", 1)),
    }
    records: list[tuple[str, Envelope]] = []
    if doc.get("status") not in TERMINAL_STATUSES_READ_MODEL:
        records.append((settings.topics.commands, CancelRequested(**common)))
    records.append((settings.topics.events, DocumentDeleted(**common)))
    await request.app.state.publisher.publish(records)
    metrics.COMMANDS.labels("delete").inc()
