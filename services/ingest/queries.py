"""The read side of the API: documents, lists, logs, texts and stats from the read model.

Every read is by ``_id`` (see shared/readmodel.py), so its cost does not grow with the number
of documents stored. Someone else's document answers exactly like a missing one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ingest.errors import ApiError, problem_responses
from services.ingest.read_schemas import DocumentPage, DocumentView, LogPage, Stats
from services.ingest.security import PrincipalDep
from shared.ids import is_document_id
from shared.mongo import public_view
from shared.readmodel import (
    LISTINGS,
    Cursor,
    CursorError,
    ListFilter,
    Order,
    ReadModel,
    listing_head_id,
)

router = APIRouter(prefix="/v1")

Status = Literal[
    "queued",
    "extracting",
    "extracted",
    "analyzing",
    "analyzed",
    "completed",
    "failed",
    "cancelled",
]
TEXT = "text/plain; charset=utf-8"

#: A cursor: per partition of documents.events, ``partition.bucket.index`` (index + 1, so
#: never negative) or ``partition.x`` once that partition is exhausted, joined by ``_``.
#: Readable on purpose: every string the pattern allows is a position to go on from, so a
#: cursor is refused by its shape (422) or used, never half-understood.
CURSOR_PATTERN = r"^\d{1,4}\.(\d{1,6}\.\d{1,6}|x)(_\d{1,4}\.(\d{1,6}\.\d{1,6}|x))*$"


def encode_cursor(cursor: Cursor) -> str:
    parts = []
    for partition, position in sorted(cursor.positions.items()):
        if position is None:
            parts.append(f"{partition}.x")
        else:
            parts.append(f"{partition}.{position[0]}.{position[1] + 1}")
    return "_".join(parts)


async def _bounded(request: Request, owner: str, cursor: Cursor) -> Cursor:
    """A cursor's buckets held to the owner's newest: a made-up bucket number far beyond it
    would otherwise be walked down one empty read at a time (found by the API fuzzer).
    One read per partition named, by ``_id``."""
    model = read_model(request)
    positions: dict[int, tuple[int, int] | None] = {}
    for partition, position in cursor.positions.items():
        if partition >= model.partitions:
            continue  # no such partition: nothing to walk
        if position is not None:
            head = await model.db[LISTINGS].find_one({"_id": listing_head_id(owner, partition)})
            newest = int(head["bucket"]) if head else 0
            position = (min(position[0], newest), position[1])
        positions[partition] = position
    return Cursor(cursor.order, positions)


def decode_cursor(text: str, order: Order) -> Cursor:
    if not re.fullmatch(CURSOR_PATTERN, text):
        raise CursorError("not a cursor from this API")
    positions: dict[int, tuple[int, int] | None] = {}
    for part in text.split("_"):
        partition, _, rest = part.partition(".")
        if rest == "x":
            positions[int(partition)] = None
        else:
            bucket, _, index = rest.partition(".")
            positions[int(partition)] = (int(bucket), int(index) - 1)
    return Cursor(order, positions)


def read_model(request: Request) -> ReadModel:
    model: ReadModel = request.app.state.read_model
    return model


async def owned(request: Request, document_id: str, owner: str) -> dict[str, Any]:
    """The owner's document, for every route by id. A new id the read model does not have
    yet is waited for briefly: the fold follows the upload's 202 by a moment."""
    if not is_document_id(document_id):
        raise ApiError(404, "not_found", "no such document")
    doc = await read_model(request).get_folded(document_id)
    if doc is None or doc.get("owner") != owner or doc.get("deleted"):
        raise ApiError(404, "not_found", "no such document")
    return doc


async def _with_original(request: Request, doc: dict[str, Any]) -> dict[str, Any]:
    """A linked duplicate shows its original's results, merged at read time (the same merge
    status publishes on documents.status: shared/readmodel.py:merge_original)."""
    return await read_model(request).with_original(doc)


@router.get(
    "/documents/{document_id}",
    responses={200: {"model": DocumentView}, **problem_responses(404, 503)},
)
async def get_document(request: Request, document_id: str, who: PrincipalDep) -> Any:
    """One document: status, progress, extraction metadata and per-page info, analysis.

    A document linked to an earlier copy (``duplicate_of``) shows that copy's results."""
    doc = await owned(request, document_id, who.owner)
    return public_view(await _with_original(request, doc))


@router.get(
    "/documents",
    responses={200: {"model": DocumentPage}, **problem_responses(503)},
)
async def list_documents(
    request: Request,
    who: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None,
        Query(
            description="`next` of the previous page (it goes on in the `order` asked)",
            pattern=CURSOR_PATTERN,
            max_length=4096,
        ),
    ] = None,
    order: Annotated[Literal["newest", "oldest"], Query(description="by creation")] = "newest",
    status: Annotated[list[Status] | None, Query(description="any of these statuses")] = None,
    detected_type: Annotated[str | None, Query(max_length=32)] = None,
    created_from: Annotated[
        str | None,
        Query(description="created at or after (RFC 3339)", json_schema_extra=_DATE_TIME),
    ] = None,
    created_to: Annotated[
        str | None, Query(description="created before (RFC 3339)", json_schema_extra=_DATE_TIME)
    ] = None,
    filename: Annotated[
        str | None, Query(max_length=200, description="filename contains (any case)")
    ] = None,
) -> Any:
    """The caller's documents as summaries, a page at a time; `next` is the cursor of the
    following page (null on the last one)."""
    try:
        start = await _bounded(request, who.owner, decode_cursor(cursor, order)) if cursor else None
        items, following = await read_model(request).page(
            who.owner,
            limit=limit,
            order=order,
            cursor=start,
            where=ListFilter(
                statuses=frozenset(status or ()),
                detected_type=detected_type,
                created_from=_instant("created_from", created_from),
                created_to=_instant("created_to", created_to),
                filename_contains=filename,
            ),
        )
    except CursorError as exc:
        raise ApiError(422, "invalid_cursor", str(exc)) from exc
    return {
        "items": [public_view({**item, "_id": item["id"]}) for item in items],
        "next": encode_cursor(following) if following else None,
    }


@router.get(
    "/documents/{document_id}/log",
    responses={200: {"model": LogPage}, **problem_responses(404, 503)},
)
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
    responses={
        200: {
            "content": {TEXT: {"schema": {"type": "string"}, "example": "Quarterly report\n..."}},
            "description": "the extracted text",
        },
        206: {
            "content": {TEXT: {"schema": {"type": "string"}, "example": "Quarterly"}},
            "description": "the part asked for with `Range: bytes=first-last`",
        },
        304: {"description": "`If-None-Match` names the text's current `ETag`"},
        **problem_responses(404, 409, 410, 416, 503, s409="no_text"),
    },
)
async def document_text(request: Request, document_id: str, who: PrincipalDep) -> Response:
    """The extracted text as UTF-8 plain text (``Range: bytes=a-b`` for a part of it).

    Its ``ETag`` is the text's SHA-256: ``If-None-Match`` answers 304 while it is unchanged,
    and ``If-Range`` makes a resumed download start over (200, the whole text) when it has
    changed since the first part (a reprocess). A document linked to an earlier copy
    (``duplicate_of``) serves that copy's text."""
    doc = await _with_original(request, await owned(request, document_id, who.owner))
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


@router.get("/stats", responses={200: {"model": Stats}, **problem_responses(503)})
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


#: One byte range (RFC 9110 §14.1.2): ``first-[last]`` or ``-suffix``; the unit is
#: case-insensitive.
_RANGE = re.compile(r"bytes=(?:(\d+)-(\d*)|-(\d+))", re.IGNORECASE)


def _ranged(request: Request, data: bytes) -> Response:
    media = TEXT
    # Of the bytes served, not of the stored reference: a redelivered extraction may have
    # written the same key again. (~1 ms a megabyte.)
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    validators = {"Accept-Ranges": "bytes", "ETag": etag}
    # RFC 9110 §13.2.2: If-None-Match first (weak comparison), then If-Range and Range.
    if _any_tag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=validators)
    whole = Response(data, media_type=media, headers=validators)
    header = request.headers.get("range")
    match = _RANGE.fullmatch(header.strip()) if header else None
    # RFC 9110 §14.2: a Range that is not valid (another unit, a syntax error, a last
    # position before the first) is ignored: the whole text, 200. Several ranges would be a
    # multipart/byteranges answer; the whole text is the simplest one the RFC allows.
    if match is None:
        return whole
    # §13.1.5: a Range under an If-Range that does not name the current text (a strong
    # comparison; a date never matches, as no Last-Modified is sent) gets the whole text.
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return whole
    first, last, suffix = match.groups()
    if suffix is not None:
        start, end = max(0, len(data) - _position(suffix)), len(data) - 1
    else:
        start = _position(first)
        if last and _position(last) < start:
            return whole
        end = min(_position(last), len(data) - 1) if last else len(data) - 1
    if start > end or start >= len(data):  # beyond the end, or an empty suffix
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"the text has {len(data)} bytes",
            headers={"Content-Range": f"bytes */{len(data)}", "Accept-Ranges": "bytes"},
            size=len(data),
        )
    return Response(
        data[start : end + 1],
        status_code=206,
        media_type=media,
        headers={"Content-Range": f"bytes {start}-{end}/{len(data)}", **validators},
    )


def _any_tag_matches(header: str | None, etag: str) -> bool:
    """``If-None-Match``: ``*``, or a list of entity tags, any of which equals ``etag`` when
    both are taken as weak (a ``W/`` prefix ignored)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = (tag.strip() for tag in header.split(","))
    return any(tag.removeprefix("W/") == etag for tag in tags)


def _position(digits: str) -> int:
    """A byte position; any number of digits (int() refuses over 4,300), past every text."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else 10**18


_DATE_TIME: dict[str, Any] = {"format": "date-time", "examples": ["2026-01-05T10:00:00Z"]}
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def _instant(name: str, text: str | None) -> datetime | None:
    """An RFC 3339 date-time, as the schema says, and nothing else (a bare number is not a
    time here, though pydantic would take it for a Unix timestamp)."""
    if text is None:
        return None
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ApiError(422, "invalid_field", f"{name} must be an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8).upper()
    try:
        zone = (
            UTC
            if offset == "Z"
            else timezone(
                (1 if offset[0] == "+" else -1)
                * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            )
        )
        return datetime(
            max(year, 1),  # RFC 3339 allows year 0; Python's calendar starts at 1
            month,
            day,
            hour,
            minute,
            min(second, 59),  # a leap second is the last second of its minute here
            int((fraction[1:] + "000000")[:6]) if fraction else 0,
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"{name}: {exc}") from exc
