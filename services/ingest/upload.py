"""Stream a multipart upload straight into blob storage, hashing each file on the way.

FastAPI's ``UploadFile`` would first spool the whole file to a temporary file; here the request
body is parsed incrementally and each ``file`` part's bytes go directly to the blob store, so an
upload is written once and never held whole in memory. A request may carry several ``file``
parts (a batch): each gets its own blob, one after the other as they arrive.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from services.ingest.errors import ApiError
from shared.blobs import BlobStore, BlobTooLargeError
from shared.events import BlobRef
from shared.filetype import HEAD_BYTES

FILE_FIELD = "file"
_MAX_FIELD_BYTES = 64 * 1024


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str | None = None
    filename: str | None = None
    content_type: str | None = None


@dataclass
class ReceivedFile:
    """One ``file`` part: stored (``blob``), or refused on its own (``error``, nothing stored)."""

    index: int
    key: str
    filename: str
    content_type: str | None
    blob: BlobRef | None = None
    #: The first bytes (up to HEAD_BYTES), kept for type sniffing without reading the blob.
    head: bytes = b""
    error: ApiError | None = None


@dataclass
class ParsedUpload:
    files: list[ReceivedFile]
    fields: dict[str, str]


# What the parser callbacks hand to the blob writer, in order.
_START, _DATA, _END = "start", "data", "end"


class _Collector:
    """Callbacks of the push parser: form fields are kept, file parts become a queue of
    (start, data..., end) items for the writer."""

    def __init__(self, max_files: int, known_fields: frozenset[str]) -> None:
        self.max_files = max_files
        self.known_fields = known_fields
        self.part = _Part()
        self.header_field = b""
        self.header_value = b""
        self.in_file = False
        self.files = 0
        self.pending: deque[tuple[str, _Part | bytes | None]] = deque()
        self.fields: dict[str, str] = {}
        self._field_buf = bytearray()

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        # Raw bytes: names and filenames arrive in UTF-8 from browsers and most clients.
        self.part.headers[self.header_field.decode("latin-1").lower()] = self.header_value
        self.header_field = self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.part.headers.get("content-disposition", b"")
        _, params = parse_options_header(disposition)
        name = params.get(b"name")
        filename = params.get(b"filename")
        self.part.name = name.decode("utf-8", "replace") if name else None
        self.part.filename = _filename(filename) if filename is not None else None
        content_type = self.part.headers.get("content-type")
        self.part.content_type = content_type.decode("utf-8", "replace") if content_type else None
        self.in_file = self.part.name == FILE_FIELD
        if self.in_file:
            self.files += 1
            if self.files > self.max_files:
                raise ApiError(
                    422,
                    "too_many_files",
                    f"at most {self.max_files} files per upload",
                    limit=self.max_files,
                )
            self.pending.append((_START, self.part))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.pending.append((_DATA, data[start:end]))
        else:
            self._field_buf += data[start:end]
            if len(self._field_buf) > _MAX_FIELD_BYTES:
                raise ApiError(422, "field_too_large", f"form field {self.part.name!r} too large")

    def on_part_end(self) -> None:
        if self.in_file:
            self.pending.append((_END, None))
            self.in_file = False
        elif self.part.name in self.known_fields:
            if self.part.name in self.fields:  # which one would count? say so instead
                raise ApiError(422, "invalid_field", f"form field {self.part.name!r} sent twice")
            self.fields[self.part.name] = self._field_buf.decode("utf-8", "replace")
        self._field_buf = bytearray()


async def receive_upload(
    request: Request,
    store: BlobStore,
    key_for: Callable[[int], str],
    *,
    max_bytes: int,
    max_files: int,
    known_fields: frozenset[str],
) -> ParsedUpload:
    """Every ``file`` part stored under ``key_for(index)``; a file over ``max_bytes`` is
    refused on its own (the others still count). Form fields other than ``known_fields`` are
    ignored (read, bounded, and dropped). Raises ApiError for a request that is wrong
    as a whole, and then nothing of it stays stored."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "unsupported_media_type",
            "upload as multipart/form-data with the document in the 'file' field",
        )
    collector = _Collector(max_files, known_fields)
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

    async def items() -> AsyncIterator[tuple[str, _Part | bytes | None]]:
        async for chunk in request.stream():
            parser.write(chunk)
            while collector.pending:
                yield collector.pending.popleft()
        parser.finalize()
        while collector.pending:
            yield collector.pending.popleft()

    files: list[ReceivedFile] = []
    stream = items()
    try:
        async for kind, value in stream:
            if kind != _START:
                continue  # the rest of a file that was refused while it was being written
            assert isinstance(value, _Part)
            received = ReceivedFile(
                index=len(files),
                key=key_for(len(files)),
                filename=(value.filename or "document").strip() or "document",
                content_type=value.content_type,
            )
            files.append(received)
            if value.filename is None:
                # A form value named "file", not a file: say so rather than guess.
                received.error = ApiError(
                    422, "not_a_file", "the 'file' part has no filename: send it as a file"
                )
                continue
            complete = False

            async def body(received: ReceivedFile = received) -> AsyncIterator[bytes]:
                # Pulls from the same item stream until this file's part ends.
                nonlocal complete
                async for kind, value in stream:
                    if kind == _END:
                        complete = True
                        return
                    assert isinstance(value, bytes)
                    if len(received.head) < HEAD_BYTES:
                        received.head += value[: HEAD_BYTES - len(received.head)]
                    yield value

            try:
                received.blob = await store.write_stream(received.key, body(), max_bytes=max_bytes)
            except BlobTooLargeError as exc:
                received.error = ApiError(
                    413, "too_large", f"uploads are limited to {exc.limit} bytes per file"
                )
                continue
            if not complete:  # the body ended inside this part
                raise ApiError(422, "missing_file", "the request ended inside a 'file' part")
    except ValueError as exc:  # the multipart parser's complaint about a broken body
        await _delete_all(store, files)
        raise ApiError(400, "malformed_multipart", str(exc)) from exc
    except BaseException:
        await _delete_all(store, files)
        raise
    if not files:
        raise ApiError(422, "missing_file", "the upload has no complete 'file' part")
    return ParsedUpload(files=files, fields=collector.fields)


#: What browsers (the HTML standard's multipart/form-data encoding) and curl write instead
#: of the three characters a quoted filename cannot hold; nothing else is escaped (not even
#: ``%``), so only these are decoded: ``a%41`` is a name as it was chosen.
_ESCAPES = {"%22": '"', "%0D": "\r", "%0A": "\n"}
_ESCAPED = re.compile("|".join(_ESCAPES))
_LINE_BREAKS = re.compile(r"[\r\n]+")


def _filename(raw: bytes) -> str:
    """The part's filename as the user chose it: UTF-8 (as browsers and most clients send
    it), ``%22`` a double quote again; a line break, which no display name needs and a log
    line or a header must not carry, becomes a space."""
    name = _ESCAPED.sub(lambda m: _ESCAPES[m.group()], raw.decode("utf-8", "replace"))
    return _LINE_BREAKS.sub(" ", name)


async def _delete_all(store: BlobStore, files: list[ReceivedFile]) -> None:
    for received in files:
        await store.delete(received.key)
