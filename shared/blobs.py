"""Blob storage behind a small interface: a local directory, or an S3-compatible object store
(:mod:`shared.s3blobs`) for deployments whose services run on different machines."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from shared.events import BlobRef

if TYPE_CHECKING:
    from shared.settings import ServiceSettings


class BlobTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"blob exceeds {limit} bytes")
        self.limit = limit


class BlobStore(Protocol):
    async def write_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> BlobRef: ...

    async def write_bytes(self, key: str, data: bytes) -> BlobRef: ...

    async def read_bytes(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with ``prefix`` (a folder); how many went."""
        ...

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A path a worker process can open while the context lasts; remote stores download
        to a cache first and remove the copy afterwards."""
        ...

    async def close(self) -> None: ...


class LocalBlobStore:
    """Files under one root. Writes go to a temporary name and are renamed into place, so a
    reader never sees half a blob and a crash leaves no blob that looks complete."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def local_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    async def write_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> BlobRef:
        path = self.local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.sha256()
        size = 0
        try:
            with tmp.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLargeError(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return BlobRef(key=key, size=size, sha256=digest.hexdigest())

    async def write_bytes(self, key: str, data: bytes) -> BlobRef:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.write_stream(key, one())

    async def read_bytes(self, key: str) -> bytes:
        return await asyncio.to_thread(self.local_path(key).read_bytes)

    async def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    async def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    @asynccontextmanager
    async def _local_copy(self, key: str) -> AsyncIterator[Path]:
        yield self.local_path(key)  # the file itself: nothing to copy or clean up

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        return self._local_copy(key)

    async def close(self) -> None:
        return None

    async def delete_prefix(self, prefix: str) -> int:
        folder = self.local_path(prefix)
        if folder == self.root or not folder.is_dir():
            return 0
        files = [p for p in folder.rglob("*") if p.is_file()]
        await asyncio.to_thread(shutil.rmtree, folder, True)
        return len(files)


def document_blob_key(document_id: str, name: str) -> str:
    return f"{document_blob_prefix(document_id)}/{name}"


def document_blob_prefix(document_id: str) -> str:
    """The folder of everything stored for one document (its upload, texts, extras)."""
    # Two-character fan-out keeps directories small with millions of documents.
    return f"documents/{document_id[:2]}/{document_id}"


def open_blob_store(settings: ServiceSettings) -> BlobStore:
    """The store the settings pick (``DOCSTREAM_BLOB_STORE``: ``local`` or ``s3``)."""
    if settings.blob_store == "s3":
        from shared.s3blobs import S3BlobStore, S3Config  # botocore only where it is used

        return S3BlobStore(S3Config.from_settings(settings), cache_dir=settings.state_dir / "blobs")
    return LocalBlobStore(settings.blob_dir)
