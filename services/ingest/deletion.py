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
from services.ingest.queries import owned
from services.ingest.security import PrincipalDep
from shared.events import TERMINAL_STATUSES_READ_MODEL, CancelRequested, DocumentDeleted, Envelope

router = APIRouter(prefix="/v1")
SOURCE = "/docstream/ingest"


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(request: Request, document_id: str, who: PrincipalDep) -> Response:
    """Delete the document; it answers 404 within a moment (once the read model has it)."""
    doc = await owned(request, document_id, who.owner)
    settings = request.app.state.settings
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": who.owner,
        "generation": int(doc.get("generation", 1)),
    }
    records: list[tuple[str, Envelope]] = []
    if doc.get("status") not in TERMINAL_STATUSES_READ_MODEL:
        records.append((settings.topics.commands, CancelRequested(**common)))
    records.append((settings.topics.events, DocumentDeleted(**common)))
    await request.app.state.publisher.publish(records)
    metrics.COMMANDS.labels("delete").inc()
    return Response(status_code=204)
