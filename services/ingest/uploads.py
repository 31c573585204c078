"""Uploads: one or several files per request, each refused, linked or queued on its own.

For each file, in order: the bytes were streamed to blob storage (upload.py); an empty file or
one whose first bytes show an unsupported type is refused (its blob deleted, nothing
published); the owner's duplicate policy is applied by content hash; then
``document.accepted`` and the work record are published, and only then is the file answered.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pymongo.errors import PyMongoError
from starlette.datastructures import State

from services.ingest import metrics
from services.ingest.admissions import Admissions, Answer, fingerprint
from services.ingest.errors import ApiError, problem_responses
from services.ingest.idempotency import IdempotencyKey, answer_of, once
from services.ingest.publishing import unavailable
from services.ingest.schemas import BatchResult, UploadAccepted, upload_request_body
from services.ingest.security import PrincipalDep
from services.ingest.upload import ParsedUpload, ReceivedFile, receive_upload
from shared.blobs import document_blob_key
from shared.events import (
    LANGUAGE_HINT_PATTERN,
    OCR_LANGUAGES_PATTERN,
    AcceptedData,
    DocumentAccepted,
    DocumentCompleted,
    DocumentUploaded,
    Envelope,
    UploadedData,
    UploadOptions,
)
from shared.filetype import FileTypeError, Kind, detect
from shared.ids import new_document_id
from shared.passwords import sealed_options

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1")
SOURCE = "/docstream/ingest"
ROUTE = "POST /v1/documents"

#: The form fields an upload understands (besides ``file``).
FIELDS = frozenset({"analyze", "duplicates", "password", "language", "ocr_languages"})

Policy = Literal["link", "reject", "process"]
POLICIES: tuple[Policy, ...] = ("link", "reject", "process")


@dataclass(frozen=True)
class _Request:
    state: State
    owner: str
    options: UploadOptions
    policy: Policy


def _bool_field(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name)
    if raw is None:
        return default
    # A JSON Schema boolean, as the OpenAPI body says: "1" or "yes" would be a guess.
    if raw.lower() == "true":
        return True
    if raw.lower() == "false":
        return False
    raise ApiError(422, "invalid_field", f"{name} must be true or false")


def _options(fields: dict[str, str]) -> UploadOptions:
    # Exactly what the OpenAPI body promises: a value it allows is never refused here.
    ocr_languages = fields.get("ocr_languages")
    if ocr_languages is not None and not re.fullmatch(OCR_LANGUAGES_PATTERN, ocr_languages):
        raise ApiError(422, "invalid_field", "ocr_languages must be like eng or eng+fra")
    language = fields.get("language") or None
    if language is not None and not re.fullmatch(LANGUAGE_HINT_PATTERN, language):
        raise ApiError(422, "invalid_field", "language must be a language tag like fr or pt-BR")
    password = fields.get("password") or None
    if password is not None and len(password) > 1024:
        raise ApiError(422, "invalid_field", "password is at most 1024 characters")
    return UploadOptions(
        analyze=_bool_field(fields, "analyze", True),
        password=password,
        language_hint=language,
        ocr_languages=ocr_languages,
    )


def _policy(fields: dict[str, str], default: str) -> Policy:
    raw = fields.get("duplicates", default)
    for policy in POLICIES:
        if raw == policy:
            return policy
    raise ApiError(422, "invalid_field", "duplicates must be link, reject or process")


@router.post(
    "/documents",
    status_code=202,
    response_model=UploadAccepted,
    responses={
        207: {
            "model": BatchResult,
            "description": "several files: one result per file, in order",
        },
        **problem_responses(400, 409, 413, 415, 503, s409="duplicate", s415="unsupported_type"),
    },
    openapi_extra={"requestBody": upload_request_body()},
)
async def upload_documents(
    request: Request, who: PrincipalDep, idempotency_key: IdempotencyKey = None
) -> Response:
    """Upload one document (202), or several ``file`` parts at once (207, one result each).

    Each file is queued once safely stored and published. Refused at once: an empty file
    (422 ``empty_file``), one whose first bytes show a type the extractor cannot read (415
    ``unsupported_type`` with ``detected_type``), a second copy of the same bytes under the
    ``reject`` duplicate policy (409 ``duplicate`` with ``duplicate_of``). Under ``link`` (the
    default) a copy of a completed document is answered with ``duplicate_of`` and shows that
    document's results without being processed again.
    """
    state = request.app.state
    settings = state.settings
    ids: dict[int, str] = {}

    def key_for(index: int) -> str:
        ids[index] = new_document_id()
        return document_blob_key(ids[index], "original")

    try:
        upload = await receive_upload(
            request,
            state.blobs,
            key_for,
            max_bytes=settings.max_upload_bytes,
            max_files=settings.max_files_per_upload,
            known_fields=FIELDS,
        )
    except ApiError as exc:
        metrics.UPLOADS.labels(exc.reason).inc()
        raise
    try:
        _check_shape(upload)
        context = _Request(
            state=state,
            owner=who.owner,
            options=_options(upload.fields),
            policy=_policy(upload.fields, settings.duplicates),
        )
    except ApiError as exc:
        # Refused after the bytes were stored: nothing may stay behind.
        await _delete_blobs(state, upload)
        metrics.UPLOADS.labels(exc.reason).inc()
        raise
    fields = {k: v for k, v in sorted(upload.fields.items()) if k != "password"}
    # Each file as the request carried it: its name and type become the document's, so the
    # same bytes under another name are another request (422 idempotency_key_reused).
    print_ = fingerprint(
        ROUTE,
        repr(fields),
        *(
            repr((f.filename, f.content_type, (f.blob.sha256 or "") if f.blob else "refused"))
            for f in upload.files
        ),
    )

    async def run() -> Answer:
        return await _accept_all(context, upload, [ids[f.index] for f in upload.files])

    async def discard() -> None:  # a replay: this request's copies of the files are not needed
        await _delete_blobs(state, upload)

    return await once(state.admissions, who.owner, idempotency_key, print_, run, on_replay=discard)


def _check_shape(upload: ParsedUpload) -> None:
    """What the OpenAPI body forbids refuses the whole request, a batch included: a part that
    is not a file, an empty file. What it cannot say (type, size, duplicates) is per file."""
    for received in upload.files:
        if received.error is not None and received.error.reason == "not_a_file":
            raise ApiError(422, "not_a_file", received.error.detail, index=received.index)
        if received.blob is not None and received.blob.size == 0:
            raise ApiError(
                422,
                "empty_file",
                f"the uploaded file {received.filename!r} is empty (0 bytes)",
                index=received.index,
            )


async def _accept_all(context: _Request, upload: ParsedUpload, ids: list[str]) -> Answer:
    if len(upload.files) == 1:
        return await _accept_one(context, upload.files[0], ids[0], queue_down=False)
    answers: list[Answer] = []
    queue_down = False
    for received, document_id in zip(upload.files, ids, strict=True):
        answer = await _accept_one(context, received, document_id, queue_down=queue_down)
        queue_down = queue_down or answer.status == 503
        answers.append(answer)
    if all(a.status >= 500 for a in answers):
        # Nothing was queued: one 503 for the whole request, safe to retry as it is.
        return answers[0]
    items = [
        {
            "index": i,
            "filename": received.filename,
            "status": answer.status,
            ("document" if answer.status < 400 else "problem"): answer.body,
        }
        for i, (received, answer) in enumerate(zip(upload.files, answers, strict=True))
    ]
    accepted = sum(1 for a in answers if a.status < 400)
    return Answer(
        207, {"items": items, "accepted": accepted, "refused": len(answers) - accepted}, {}
    )


async def _accept_one(
    context: _Request, received: ReceivedFile, document_id: str, *, queue_down: bool
) -> Answer:
    blobs = context.state.blobs
    try:
        if received.error is not None:
            raise received.error
        if queue_down:  # the queue failed for an earlier file of this batch: do not wait again
            await blobs.delete(received.key)
            raise unavailable()
        answer = await _admit(context, received, document_id)
    except ApiError as exc:
        if exc.reason != "queue_unavailable":  # the publisher cleans up after itself
            await blobs.delete(received.key)
        metrics.UPLOADS.labels(exc.reason).inc()
        return answer_of(exc)
    except PyMongoError:
        # The read model is down: this file is refused whole (nothing was published for it),
        # and a batch goes on answering for the others.
        await blobs.delete(received.key)
        metrics.UPLOADS.labels("read_model_unavailable").inc()
        return answer_of(
            ApiError(
                503,
                "read_model_unavailable",
                "the document store is unavailable; try again",
                headers={"Retry-After": "5"},
            )
        )
    except BaseException:
        await blobs.delete(received.key)
        raise
    return answer


async def _admit(context: _Request, received: ReceivedFile, document_id: str) -> Answer:
    state = context.state
    blob = received.blob
    assert blob is not None and blob.sha256 is not None
    await _refuse_unsupported(state, received)
    admissions: Admissions = state.admissions
    first: str | None = None
    if context.policy != "process":
        found = await _first_copy(context, blob.sha256, document_id)
        if found is not None:
            first, original = found
            if context.policy == "reject":
                raise ApiError(
                    409,
                    "duplicate",
                    "you uploaded the same file before",
                    duplicate_of=first,
                )
            if original is not None and original.get("status") == "completed":
                return await _link(context, received, document_id, first)
    # This upload holds the content pointer (claimed pending) when it is the first copy.
    holds = context.policy != "process" and first is None
    accepted, work = _records(context, received, document_id)
    try:
        await state.publisher.publish(
            [(state.settings.topics.events, accepted), (state.settings.topics.uploaded, work)],
            blob_key=received.key,
        )
    except BaseException:
        if holds:  # never a pointer to a document that was not queued
            await asyncio.shield(admissions.release_first(context.owner, blob.sha256, document_id))
        raise
    if holds:
        await admissions.published(context.owner, blob.sha256, document_id)
    elif context.policy == "process":
        await admissions.remember(context.owner, blob.sha256, document_id)
    metrics.UPLOADS.labels("accepted").inc()
    metrics.UPLOAD_BYTES.inc(blob.size)
    metrics.UPLOAD_SIZE.observe(blob.size)
    log.info("upload accepted", extra={"document_id": document_id, "size": blob.size})
    return _accepted(state, received, document_id)


async def _first_copy(
    context: _Request, sha256: str, document_id: str
) -> tuple[str, dict[str, Any] | None] | None:
    """None: this upload is the owner's first copy of the bytes and holds their pointer
    (claimed before publishing, so of concurrent copies exactly one is first). Otherwise the
    first document's id and its state (None: not folded yet, it is in flight)."""
    state = context.state
    admissions: Admissions = state.admissions
    # A claim still pending after this long belongs to an upload that died between its claim
    # and the end of its publish (which gives up after ``publish_timeout_s``).
    stale = timedelta(seconds=2 * state.settings.publish_timeout_s + 5)
    while True:
        pointer = await admissions.claim_first(context.owner, sha256, document_id)
        if pointer is None:
            return None
        original = await state.read_model.get(pointer.document_id)
        if original is not None:
            if original.get("deleted") or original.get("owner") != context.owner:
                # Deleted (the status service forgets its pointer soon): this copy is first.
                await admissions.forget_first(context.owner, sha256, pointer)
                continue
            return pointer.document_id, original
        if not pointer.pending:
            return pointer.document_id, None  # published, not folded yet
        if datetime.now(UTC) - pointer.created_at > stale:
            await admissions.forget_first(context.owner, sha256, pointer)
            continue
        if context.policy == "link":
            return pointer.document_id, None  # in flight: this copy is processed anyway
        # reject: 409 names a document only once it is queued (its publish may still fail,
        # and then this copy is the first); a publish takes milliseconds.
        await asyncio.sleep(0.05)


async def _refuse_unsupported(state: State, received: ReceivedFile) -> None:
    """415 when the bytes already show a type the extractor would refuse (the same
    detection it uses, so nothing it can read is refused here)."""
    try:
        # On an object store this fetches the file: a DOCX is told from any ZIP by its parts.
        async with state.blobs.local_copy(received.key) as path:
            detected = await asyncio.to_thread(detect, path, received.head)
    except FileTypeError as exc:
        raise ApiError(422, exc.reason.value, exc.message) from exc
    if detected.kind is Kind.UNSUPPORTED:
        raise ApiError(
            415,
            "unsupported_type",
            f"{detected.mime} is not supported (PDF, DOCX, text, Markdown, HTML or CSV)",
            detected_type=detected.mime,
        )


async def _link(
    context: _Request, received: ReceivedFile, document_id: str, original: str
) -> Answer:
    """The same bytes as a completed document: a new id that shows its results, nothing
    processed again (no work record), the new copy of the file not kept."""
    state = context.state
    accepted, _ = _records(context, received, document_id, duplicate_of=original)
    completed = DocumentCompleted(
        source=SOURCE, subject=document_id, owner=context.owner, generation=1
    )
    events = state.settings.topics.events
    await state.publisher.publish([(events, accepted), (events, completed)], blob_key=received.key)
    await state.blobs.delete(received.key)
    metrics.UPLOADS.labels("linked").inc()
    return _accepted(state, received, document_id, duplicate_of=original)


def _records(
    context: _Request,
    received: ReceivedFile,
    document_id: str,
    *,
    duplicate_of: str | None = None,
) -> tuple[Envelope, Envelope]:
    blob = received.blob
    assert blob is not None
    options = context.options
    common: dict[str, Any] = {
        "source": SOURCE,
        "subject": document_id,
        "owner": context.owner,
        "generation": 1,
    }
    accepted = DocumentAccepted(
        **common,
        data=AcceptedData(
            filename=received.filename,
            content_type=received.content_type,
            size=blob.size,
            sha256=blob.sha256 or "",
            options=options.model_copy(update={"password": None}),
            password_given=options.password is not None,
            duplicate_of=duplicate_of,
        ),
    )
    if options.password is not None:
        # Sealed for the extractor: the work record stays on the topic for days.
        secret = context.state.settings.auth_secret.get_secret_value()
        options = sealed_options(options, secret, document_id=document_id)
    work = DocumentUploaded(
        **common,
        data=UploadedData(
            filename=received.filename,
            content_type=received.content_type,
            blob=blob,
            options=options,
        ),
    )
    return accepted, work


def _accepted(
    state: State, received: ReceivedFile, document_id: str, *, duplicate_of: str | None = None
) -> Answer:
    assert received.blob is not None
    location = f"/v1/documents/{document_id}"
    body: dict[str, Any] = {
        "id": document_id,
        "status": "accepted",
        "filename": received.filename,
        "size": received.blob.size,
        "sha256": received.blob.sha256,
        "location": location,
        "ws_url": f"{state.settings.public_ws_url}/ws/documents/{document_id}",
    }
    if duplicate_of is not None:
        body["duplicate_of"] = duplicate_of
    return Answer(202, body, {"Location": location})


async def _delete_blobs(state: State, upload: ParsedUpload) -> None:
    for received in upload.files:
        await state.blobs.delete(received.key)
