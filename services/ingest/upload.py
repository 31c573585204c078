"""Stream a multipart upload straight into blob storage, hashing it on the way.

FastAPI's ``UploadFile`` would first spool the whole file to a temporary file; here the request
body is parsed incrementally and the file part's bytes go directly to the blob store, so an
upload is written once and never held whole in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from services.ingest.errors import ApiError
from shared.blobs import BlobStore, BlobTooLargeError
from shared.events import BlobRef

FILE_FIELD = "file"
_MAX_FIELD_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None


@dataclass
class ParsedUpload:
    blob: BlobRef
    filename: str
    content_type: str | None
    fields: dict[str, str]


class _Collector:
    """Callbacks of the push parser; file bytes are queued for the blob writer."""

    def __init__(self) -> None:
        self.part = _Part()
        self.header_field = b""
        self.header_value = b""
        self.file_part: _Part | None = None
        self.file_done = False
        self.pending: list[bytes] = []
        self.fields: dict[str, str] = {}
        self._field_buf = bytearray()

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.header_field.decode("latin-1").lower()] = self.header_value.decode(
            "utf-8", "replace"
        )
        self.header_field = self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.part.headers.get("content-disposition", "")
        _, params = parse_options_header(disposition)
        name = params.get(b"name")
        filename = params.get(b"filename")
        self.part.name = name.decode("utf-8", "replace") if name else None
        self.part.filename = filename.decode("utf-8", "replace") if filename is not None else None
        self.part.content_type = self.part.headers.get("content-type")
        if self.part.name == FILE_FIELD:
            if self.file_part is not None:
                raise ApiError(422, "too_many_files", "send one file per upload")
            self.file_part = self.part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part is self.file_part:
            self.pending.append(data[start:end])
        else:
            self._field_buf += data[start:end]
            if len(self._field_buf) > _MAX_FIELD_BYTES:
                raise ApiError(422, "field_too_large", f"form field {self.part.name!r} too large")

    def on_part_end(self) -> None:
        if self.part is self.file_part:
            self.file_done = True
        elif self.part.name:
            self.fields[self.part.name] = self._field_buf.decode("utf-8", "replace")
        self._field_buf = bytearray()


async def receive_upload(
    request: Request, store: BlobStore, key: str, *, max_bytes: int
) -> ParsedUpload:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "unsupported_media_type",
            "upload as multipart/form-data with the document in the 'file' field",
        )
    collector = _Collector()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": collector.on_part_begin,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_part_data": collector.on_part_data,
            "on_part_end": collector.on_part_end,
        },
    )

    async def file_bytes() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            parser.write(chunk)
            if collector.pending:
                data = b"".join(collector.pending)
                collector.pending.clear()
                yield data
        parser.finalize()

    try:
        blob = await store.write_stream(key, file_bytes(), max_bytes=max_bytes)
    except BlobTooLargeError as exc:
        raise ApiError(413, "too_large", f"uploads are limited to {exc.limit} bytes") from exc
    except ValueError as exc:  # the multipart parser's complaint about a broken body
        await store.delete(key)
        raise ApiError(400, "malformed_multipart", str(exc)) from exc
    if collector.file_part is None or not collector.file_done:
        await store.delete(key)
        raise ApiError(422, "missing_file", "the upload has no complete 'file' part")
    return ParsedUpload(
        blob=blob,
        filename=(collector.file_part.filename or "document").strip() or "document",
        content_type=collector.file_part.content_type,
        fields=collector.fields,
    )
