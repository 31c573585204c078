"""Every record docstream writes to Kafka, declared once.

Each record is a CloudEvents 1.0 envelope in *structured* mode (the whole event is the JSON value,
content type ``application/cloudevents+json``), so any CloudEvents consumer can read our topics.
The ``type`` field names the event as ``<entity>.<past tense>`` and selects the payload model;
all models are joined in one discriminated union parsed by :data:`EVENT_ADAPTER`.

Schema evolution rule: fields are only ever added, always with defaults. A breaking change gets a
new type name. So the type names the payload's schema (docs/asyncapi.json) and no record sets
``dataschema``: a version in it could never change without a new type anyway, and every record
would carry it for nothing. The attribute is declared so that a record which has it still reads.

Every event carries the document id (``subject``), the ``owner`` and the ``generation``
(CloudEvents extension attributes). Consumers ignore records of an older generation than the one
they know (a reprocess bumps it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.config import JsonDict

from shared.reasons import ReasonCode

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"


def new_event_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every ``data`` model: unknown fields from newer producers are kept, not refused."""

    model_config = ConfigDict(extra="allow")


# --- payloads: work records (documents.uploaded / documents.extracted / documents.analyzed) ---


class BlobRef(Payload):
    key: str
    size: int
    sha256: str | None = None


#: Tesseract language codes joined by "+": "eng", "eng+fra", "chi_sim".
#: A language hint as uploads give it: a language tag such as "fr", "pt-BR" or "zh-Hant".
#: Checked where uploads come in, not on the event (events already written must still decode).
LANGUAGE_HINT_PATTERN = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$"
OCR_LANGUAGES_PATTERN = r"^[a-z]{3}(_[a-z]+)?(\+[a-z]{3}(_[a-z]+)?){0,7}$"


class UploadOptions(Payload):
    analyze: bool = True
    #: The password in plain text: ingest's in-memory carrier from the form to the sealing,
    #: never written (``exclude``). Still *read*, for one release, from work records written
    #: before passwords were sealed (in flight, or on the DLT, at the upgrade); then remove it.
    password: str | None = Field(
        None,
        exclude=True,
        json_schema_extra={"deprecated": True},
        description="deprecated, no longer written: the password in plain text, as records "
        "written before password_sealed carried it (still read by the extractor for one "
        "release)",
    )
    #: Only ever on the work topic (documents.uploaded), never on documents.events or a
    #: later stage's record: see shared/passwords.py.
    password_sealed: str | None = Field(
        None,
        description="the upload's password for an encrypted PDF, encrypted (AES-256-GCM, a "
        "key the ingest and the extractor derive from their shared secret, bound to the "
        "document id) so that only the extractor can read it; only ever on "
        "documents.uploaded (and its DLT)",
    )
    language_hint: str | None = None
    #: Tesseract languages for scanned pages, e.g. "eng+fra"; None: the extractor's default.
    ocr_languages: str | None = Field(None, pattern=OCR_LANGUAGES_PATTERN)


class UploadedData(Payload):
    filename: str
    content_type: str | None = None
    blob: BlobRef
    options: UploadOptions = Field(default_factory=UploadOptions)


class PageInfo(Payload):
    number: int
    chars: int
    empty: bool = False  # no text layer (a scanned page): said per page, not a failure
    #: The reader that produced the page's text ("pypdfium2", a fallback such as "pypdf", "ocr").
    extractor: str | None = None
    #: 0..1, Tesseract's mean word confidence, where OCR produced the text.
    ocr_confidence: float | None = None
    warnings: list[str] = Field(default_factory=list)


class TableData(Payload):
    page: int | None = None
    rows: list[list[str | None]]


class ExtractionMetadata(Payload):
    detected_type: str
    extractor: str
    pages: int
    chars: int
    words: int
    language: str | None = None
    title: str | None = None
    author: str | None = None
    took_ms: float
    empty_pages: list[int] = Field(default_factory=list)
    tables: int = 0
    #: Per page (up to a bound, so lifecycle events stay small; the work record has them all).
    page_info: list[PageInfo] = Field(default_factory=list)


class ExtractedData(Payload):
    metadata: ExtractionMetadata
    # Claim check: small texts ride inline, large ones are in blob storage.
    text: str | None = None
    text_blob: BlobRef | None = None
    page_info: list[PageInfo] = Field(default_factory=list)
    tables: list[TableData] = Field(default_factory=list)
    options: UploadOptions = Field(default_factory=UploadOptions)
    #: When the record would be too large: tables and page_info as JSON in blob storage.
    extras_blob: BlobRef | None = None


class Sentiment(Payload):
    label: Literal["positive", "negative", "neutral", "mixed"]
    score: float = Field(ge=-1.0, le=1.0)


class Usage(Payload):
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    estimated_cost_usd: float = 0.0


class AnalysisResult(Payload):
    provider: str
    model: str | None = None
    summary: str
    key_points: list[str] = Field(default_factory=list)
    sentiment: Sentiment
    topics: list[str] = Field(default_factory=list)
    language: str | None = None
    chunks: int = 1
    usage: Usage = Field(default_factory=Usage)
    warnings: list[str] = Field(default_factory=list)
    took_ms: float = 0.0


class AnalyzedData(Payload):
    analysis: AnalysisResult


# --- payloads: lifecycle events (documents.events) ---


class AcceptedData(Payload):
    filename: str
    content_type: str | None = None
    size: int
    sha256: str
    # What the work record asked for (never the password itself: this is documents.events),
    # so a reprocess or a re-drive can ask the same again.
    options: UploadOptions | None = None
    password_given: bool = False
    #: The earlier document with the same bytes whose results this one shows (duplicate policy
    #: ``link``): nothing is processed for it, its completion follows at once.
    duplicate_of: str | None = None


class StageData(Payload):
    stage: Literal["extraction", "analysis"]


class ProgressData(Payload):
    stage: Literal["extraction", "analysis"]
    done: int
    total: int | None = None
    unit: str = "page"


class ExtractionCompletedData(Payload):
    metadata: ExtractionMetadata
    text_blob: BlobRef | None = None


class AnalysisCompletedData(Payload):
    analysis: AnalysisResult


class DocumentCompletedData(Payload):
    pass


class FailedData(Payload):
    stage: str
    reason: ReasonCode
    message: str


class CancelledData(Payload):
    stage: str | None = None


class DeletedData(Payload):
    pass


class StateData(Payload):
    """A document's whole read-model state, as GET /v1/documents/{id} shows it."""

    state: dict[str, Any]


class RedrivenData(Payload):
    """A stalled stage's work record sent again, as a new attempt of the same generation."""

    stage: Literal["extraction", "analysis"]
    attempt: int = Field(ge=2)
    stalled_s: float
    status: str


class CancelRequestedData(Payload):
    pass


# --- the envelope and one class per event type ---


#: Attributes an event gets by default when it is made, and so every record carries (only
#: ``None`` is left out of a record, see :func:`encode`; ``data`` has a default on the types
#: whose payload may be empty). A model may be built without them, but a consumer may rely on
#: them: the published JSON Schema (docs/asyncapi.json) requires them, as CloudEvents does
#: ``id``, ``specversion`` and ``type``.
ALWAYS_WRITTEN = frozenset({"specversion", "id", "time", "datacontenttype", "type", "data"})


def _require_always_written(schema: JsonDict) -> None:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    required = schema.get("required")
    given = set(required) if isinstance(required, list) else set()
    # In the order of the properties, as pydantic lists the required ones.
    schema["required"] = [name for name in properties if name in given | ALWAYS_WRITTEN]


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes plus our extension attributes ``owner`` and ``generation``."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_require_always_written)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=new_event_id)
    source: str
    subject: str  # the document id
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    owner: str
    generation: int = Field(ge=1)

    @property
    def document_id(self) -> str:
        return self.subject


class DocumentUploaded(Envelope):
    type: Literal["document.uploaded"] = "document.uploaded"
    data: UploadedData


class DocumentExtracted(Envelope):
    type: Literal["document.extracted"] = "document.extracted"
    data: ExtractedData


class DocumentAnalyzed(Envelope):
    type: Literal["document.analyzed"] = "document.analyzed"
    data: AnalyzedData


class DocumentAccepted(Envelope):
    type: Literal["document.accepted"] = "document.accepted"
    data: AcceptedData


class ExtractionStarted(Envelope):
    """A worker took the document. Sent with the stage's next events (its first progress, or
    the end of a quick document), or on its own after ``DOCSTREAM_EXTRACTOR_STARTED_HOLD_S``
    (0.25 s); ``time`` is when it was made."""

    type: Literal["extraction.started"] = "extraction.started"
    data: StageData = Field(default_factory=lambda: StageData(stage="extraction"))


class ExtractionProgressed(Envelope):
    type: Literal["extraction.progressed"] = "extraction.progressed"
    data: ProgressData


class ExtractionCompleted(Envelope):
    type: Literal["extraction.completed"] = "extraction.completed"
    data: ExtractionCompletedData


class AnalysisStarted(Envelope):
    """The analyzer took the document. Sent with the analysis's end when it is quick, or on
    its own after ``DOCSTREAM_ANALYZER_STARTED_HOLD_S`` (0.25 s); ``time`` is when it was
    made."""

    type: Literal["analysis.started"] = "analysis.started"
    data: StageData = Field(default_factory=lambda: StageData(stage="analysis"))


class AnalysisCompleted(Envelope):
    type: Literal["analysis.completed"] = "analysis.completed"
    data: AnalysisCompletedData


class DocumentCompleted(Envelope):
    type: Literal["document.completed"] = "document.completed"
    data: DocumentCompletedData = Field(default_factory=DocumentCompletedData)


class DocumentFailed(Envelope):
    type: Literal["document.failed"] = "document.failed"
    data: FailedData


class DocumentCancelled(Envelope):
    type: Literal["document.cancelled"] = "document.cancelled"
    data: CancelledData = Field(default_factory=CancelledData)


class DocumentDeleted(Envelope):
    """The owner deleted the document: its records and files go, its id answers 404."""

    type: Literal["document.deleted"] = "document.deleted"
    data: DeletedData = Field(default_factory=DeletedData)


class DocumentUpdated(Envelope):
    """The latest state of a document (documents.status, compacted: one per document)."""

    type: Literal["document.updated"] = "document.updated"
    data: StateData


class DocumentRedriven(Envelope):
    type: Literal["document.redriven"] = "document.redriven"
    data: RedrivenData


class CancelRequested(Envelope):
    type: Literal["document.cancel_requested"] = "document.cancel_requested"
    data: CancelRequestedData = Field(default_factory=CancelRequestedData)


Event = Annotated[
    DocumentUploaded
    | DocumentExtracted
    | DocumentAnalyzed
    | DocumentAccepted
    | ExtractionStarted
    | ExtractionProgressed
    | ExtractionCompleted
    | AnalysisStarted
    | AnalysisCompleted
    | DocumentCompleted
    | DocumentFailed
    | DocumentCancelled
    | DocumentRedriven
    | DocumentDeleted
    | DocumentUpdated
    | CancelRequested,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

#: Lifecycle event types that end a document's generation.
TERMINAL_TYPES = frozenset(
    {"document.completed", "document.failed", "document.cancelled", "document.deleted"}
)


def encode(event: Envelope) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def decode(raw: bytes | str) -> Event:
    """Parse one record value; raises ``pydantic.ValidationError`` for anything not ours."""
    return EVENT_ADAPTER.validate_json(raw)


def peek_type(raw: bytes) -> str | None:
    """An event's type without decoding it, for consumers that want few of the many records
    (decoding every event, analyses and all, cost a consumer more than the rest of its work).

    Reads the envelope's ``"type":"..."`` as :func:`encode` writes it (compact, before
    ``data``); None when the record is written any other way: then decode it.
    """
    at = raw.find(b'"type":"')
    data = raw.find(b'"data":')
    if at < 0 or 0 <= data < at:
        return None
    end = raw.find(b'"', at + 8)
    return raw[at + 8 : end].decode(errors="replace") if end > 0 else None


def derive(parent: Envelope, cls: type[Any], *, source: str, **fields: Any) -> Any:
    """A new event about the same document, owner and generation as ``parent``."""
    return cls(
        source=source,
        subject=parent.subject,
        owner=parent.owner,
        generation=parent.generation,
        **fields,
    )


#: The read model's statuses that end a generation (status folds the terminal types into these).
TERMINAL_STATUSES_READ_MODEL = frozenset({"completed", "failed", "cancelled"})
