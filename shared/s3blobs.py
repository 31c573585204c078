"""Blobs in an S3-compatible object store (AWS S3, MinIO, SeaweedFS, s3proxy, ...).

The same contract as :class:`shared.blobs.LocalBlobStore`: a blob appears whole or not at all
(a single PUT, or a multipart upload that is completed only after its last part and aborted
on any failure), streamed uploads are never held whole in memory (parts of ``part_bytes``),
and their sha256 is computed on the way.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.blobs import BlobTooLargeError
from shared.events import BlobRef

if TYPE_CHECKING:
    from shared.settings import ServiceSettings

#: S3's smallest part but the last is 5 MiB; a bigger part means fewer requests.
PART_BYTES = 8 * 2**20
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str | None
    bucket: str
    region: str
    access_key_id: str | None
    secret_access_key: str | None

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> S3Config:
        secret = settings.s3_secret_access_key
        return cls(
            endpoint_url=settings.s3_endpoint_url,
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING


def _check_key(key: str) -> str:
    # The local store refuses keys that leave its folder; refuse the same ones here so a
    # key that works on one store works on the other.
    if key.startswith("/") or ".." in key.split("/") or not key:
        raise ValueError(f"blob key escapes the store: {key!r}")
    return key


class S3BlobStore:
    def __init__(self, config: S3Config, *, cache_dir: Path, part_bytes: int = PART_BYTES) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self.part_bytes = part_bytes
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        # Created on first use: the client binds to the running event loop.
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    client = await self._stack.enter_async_context(
                        get_session().create_client(
                            "s3",
                            endpoint_url=self.config.endpoint_url,
                            region_name=self.config.region,
                            aws_access_key_id=self.config.access_key_id,
                            aws_secret_access_key=self.config.secret_access_key,
                            # Path-style: self-hosted servers have no wildcard DNS per bucket.
                            config=Config(
                                s3={"addressing_style": "path"},
                                # Newer SDKs add CRC checksum headers to every upload; many
                                # S3-compatible servers refuse them as not implemented.
                                request_checksum_calculation="when_required",
                                response_checksum_validation="when_required",
                            ),
                        )
                    )
                    await self._ensure_bucket(client)
                    self._client = client
        return self._client

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            await client.head_bucket(Bucket=self.config.bucket)
        except ClientError as exc:
            if not _missing(exc):
                raise
            try:
                await client.create_bucket(Bucket=self.config.bucket)
            except ClientError as race:  # another replica created it meanwhile
                code = race.response.get("Error", {}).get("Code")
                if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    async def write_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int | None = None
    ) -> BlobRef:
        s3 = await self._s3()
        bucket = self.config.bucket
        _check_key(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLargeError(max_bytes)
                digest.update(chunk)
                buffer += chunk
                if len(buffer) >= self.part_bytes:
                    if upload_id is None:
                        started = await s3.create_multipart_upload(Bucket=bucket, Key=key)
                        upload_id = started["UploadId"]
                    parts.append(await self._part(s3, key, upload_id, len(parts) + 1, buffer))
                    buffer = bytearray()
            if upload_id is None:
                await s3.put_object(Bucket=bucket, Key=key, Body=bytes(buffer))
            else:
                if buffer:
                    parts.append(await self._part(s3, key, upload_id, len(parts) + 1, buffer))
                await s3.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            if upload_id is not None:  # nothing half-written stays behind
                await asyncio.shield(
                    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                )
            raise
        return BlobRef(key=key, size=size, sha256=digest.hexdigest())

    async def _part(
        self, s3: Any, key: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, Any]:
        answer = await s3.upload_part(
            Bucket=self.config.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(data),
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def write_bytes(self, key: str, data: bytes) -> BlobRef:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.write_stream(key, one())

    async def read_bytes(self, key: str) -> bytes:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.config.bucket, Key=_check_key(key))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(key) from exc
            raise
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.config.bucket, Key=_check_key(key))

    async def exists(self, key: str) -> bool:
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.config.bucket, Key=_check_key(key))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True

    async def delete_prefix(self, prefix: str) -> int:
        s3 = await self._s3()
        # A folder: "documents/ab/abc" must not also take "documents/ab/abcd".
        folder = _check_key(prefix).rstrip("/") + "/"
        removed = 0
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.config.bucket, Prefix=folder):
            keys = [item["Key"] for item in page.get("Contents", [])]
            # One DELETE each, not DeleteObjects: that call needs a body checksum, which
            # several S3-compatible servers do not implement; a document has a few blobs.
            await asyncio.gather(
                *(s3.delete_object(Bucket=self.config.bucket, Key=key) for key in keys)
            )
            removed += len(keys)
        return removed

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        return self._local_copy(key)

    @asynccontextmanager
    async def _local_copy(self, key: str) -> AsyncIterator[Path]:
        """Downloaded in chunks to the cache (worker processes open files, not streams)."""
        s3 = await self._s3()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self.cache_dir / f"{uuid.uuid4().hex}-{Path(_check_key(key)).name}"
        try:
            try:
                answer = await s3.get_object(Bucket=self.config.bucket, Key=key)
            except ClientError as exc:
                if _missing(exc):
                    raise FileNotFoundError(key) from exc
                raise
            with path.open("wb") as out:
                async with answer["Body"] as body:
                    while chunk := await body.read(2**20):
                        out.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)
