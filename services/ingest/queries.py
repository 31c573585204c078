"""The read side of the API: documents, lists, logs, texts and stats from the read model.

Every read is by ``_id`` (see shared/readmodel.py), so its cost does not grow with the number
of documents stored. Someone else's document answers exactly like a missing one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ingest.errors import ApiError
from services.ingest.security import PrincipalDep
from shared.ids import is_document_id
from shared.mongo import public_view
from shared.readmodel import Cursor, CursorError, ListFilter, ReadModel

router = APIRouter(prefix="/v1")

STATUSES = (
    "queued",
    "extracting",
    "extracted",
    "analyzing",
    "analyzed",
    "completed",
    "failed",
    "cancelled",
)


def read_model(request: Request) -> ReadModel:
    model: ReadModel = request.app.state.read_model
    return model


async def owned(request: Request, document_id: str, owner: str) -> dict[str, Any]:
    if not is_document_id(document_id):
        raise ApiError(404, "not_found", "no such document")
    doc = await read_model(request).get(document_id)
    if doc is None or doc.get("owner") != owner or doc.get("deleted"):
        raise ApiError(404, "not_found", "no such document")
    return doc


@router.get("/documents/{document_id}")
async def get_document(request: Request, document_id: str, who: PrincipalDep) -> Any:
    """One document: status, progress, extraction metadata and per-page info, analysis."""
    return public_view(await owned(request, document_id, who.owner))


@router.get("/documents")
async def list_documents(
    request: Request,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="`next` of the previous page")] = None,
    order: Annotated[Literal["newest", "oldest"], Query(description="by creation")] = "newest",
    status: Annotated[list[str] | None, Query(description="any of these statuses")] = None,
    detected_type: Annotated[str | None, Query(max_length=32)] = None,
    created_from: Annotated[datetime | None, Query(description="created at or after")] = None,
    created_to: Annotated[datetime | None, Query(description="created before")] = None,
    filename: Annotated[
        str | None, Query(max_length=200, description="filename contains (any case)")
    ] = None,
) -> Any:
    """The caller's documents as summaries, a page at a time; `next` is the cursor of the
    following page (null on the last one)."""
    unknown = sorted(set(status or ()) - set(STATUSES))
    if unknown:
        raise ApiError(422, "invalid_status", f"unknown status {unknown[0]!r}", allowed=STATUSES)
    try:
        start = Cursor.decode(cursor) if cursor else None
        items, following = await read_model(request).page(
            who.owner,
            limit=limit,
            order=order,
            cursor=start,
            where=ListFilter(
                statuses=frozenset(status or ()),
                detected_type=detected_type,
                created_from=_aware(created_from),
                created_to=_aware(created_to),
                filename_contains=filename,
            ),
        )
    except CursorError as exc:
        raise ApiError(422, "invalid_cursor", str(exc)) from exc
    return {
        "items": [public_view({**item, "_id": item["id"]}) for item in items],
        "next": following.encode() if following else None,
    }


@router.get("/documents/{document_id}/log")
async def document_log(
    request: Request,
    document_id: str,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[int, Query(ge=-1, description="`next` of the previous page")] = -1,
) -> Any:
    """What happened to the document, event by event, every generation, oldest first."""
    doc = await owned(request, document_id, who.owner)
    entries = list(doc.get("_log") or [])
    page = entries[after + 1 : after + 1 + limit]
    following = after + len(page) if after + 1 + limit < len(entries) else None
    return {
        "items": [public_view({**e, "_id": i}) for i, e in enumerate(page, after + 1)],
        "next": following,
    }


@router.get(
    "/documents/{document_id}/text",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "the extracted text"}},
)
async def document_text(request: Request, document_id: str, who: PrincipalDep) -> Response:
    """The extracted text as UTF-8 plain text (``Range: bytes=a-b`` for a part of it)."""
    doc = await owned(request, document_id, who.owner)
    blob = doc.get("text_blob")
    if not blob:
        raise ApiError(
            409, "no_text", f"the document has no extracted text (it is {doc.get('status')})"
        )
    try:
        data: bytes = await request.app.state.blobs.read_bytes(blob["key"])
    except FileNotFoundError as exc:
        raise ApiError(410, "blob_missing", "the extracted text is no longer stored") from exc
    return _ranged(request, data)


@router.get("/stats")
async def stats(request: Request, who: PrincipalDep) -> Any:
    """The caller's totals: documents by status, pages, characters, tokens, estimated cost."""
    entries = await read_model(request).entries(who.owner)
    by_status: dict[str, int] = {}
    for entry in entries:
        key = str(entry.get("status"))
        by_status[key] = by_status.get(key, 0) + 1
    return {
        "documents": len(entries),
        "by_status": by_status,
        "pages": sum(int(e.get("pages") or 0) for e in entries),
        "chars": sum(int(e.get("chars") or 0) for e in entries),
        "input_tokens": sum(int(e.get("input_tokens") or 0) for e in entries),
        "output_tokens": sum(int(e.get("output_tokens") or 0) for e in entries),
        "estimated_cost_usd": round(sum(float(e.get("cost_usd") or 0) for e in entries), 6),
    }


def _ranged(request: Request, data: bytes) -> Response:
    media = "text/plain; charset=utf-8"
    header = request.headers.get("range")
    if not header or not header.startswith("bytes="):
        return Response(data, media_type=media, headers={"Accept-Ranges": "bytes"})
    try:
        first, _, last = header.removeprefix("bytes=").partition("-")
        if first == "":
            start, end = max(0, len(data) - int(last)), len(data) - 1
        else:
            start = int(first)
            end = min(int(last), len(data) - 1) if last else len(data) - 1
    except ValueError:
        start, end = 1, 0  # unparseable: unsatisfiable below
    if start > end or start >= len(data):
        return Response(
            status_code=416,
            headers={"Content-Range": f"bytes */{len(data)}", "Accept-Ranges": "bytes"},
        )
    return Response(
        data[start : end + 1],
        status_code=206,
        media_type=media,
        headers={"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"},
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
