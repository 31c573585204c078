"""The BlobStore contract, run against both stores: the local folder and an S3-compatible
object store (a real s3proxy server, installed and started here; no mock)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from deploy.launcher.objectstore import S3Server
from shared.blobs import BlobStore, BlobTooLargeError, LocalBlobStore
from shared.s3blobs import S3BlobStore, S3Config


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    config = S3Config(
        endpoint_url=server.endpoint_url,
        bucket=f"test-{uuid.uuid4().hex[:8]}",
        region="us-east-1",
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )
    # Small parts, so a few MiB already take the multipart path.
    s3 = S3BlobStore(config, cache_dir=tmp_path / "cache", part_bytes=5 * 2**20)
    yield s3
    await s3.close()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_written_bytes_read_back_with_their_size_and_hash(store: BlobStore) -> None:
    data = b"hello, blobs\n" * 100
    ref = await store.write_bytes("documents/ab/abc/original", data)
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.read_bytes("documents/ab/abc/original") == data
    assert await store.exists("documents/ab/abc/original")
    assert not await store.exists("documents/ab/abc/other")


async def test_a_large_stream_is_stored_whole(store: BlobStore) -> None:
    part = bytes(range(256)) * 4096  # 1 MiB
    ref = await store.write_stream("big/file", chunks(*[part] * 12))
    assert ref.size == 12 * len(part)
    assert ref.sha256 == hashlib.sha256(part * 12).hexdigest()
    assert await store.read_bytes("big/file") == part * 12


async def test_too_large_a_stream_leaves_nothing(store: BlobStore) -> None:
    part = b"x" * 2**20
    with pytest.raises(BlobTooLargeError):
        await store.write_stream("big/refused", chunks(*[part] * 8), max_bytes=7 * 2**20)
    assert not await store.exists("big/refused")


async def test_missing_blob_reads_as_file_not_found(store: BlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        await store.read_bytes("no/such/blob")


async def test_delete_and_delete_prefix_take_a_folder_only(store: BlobStore) -> None:
    for name in ("original", "text-g1.txt", "extras-g1.json"):
        await store.write_bytes(f"documents/ab/abc/{name}", name.encode())
    await store.write_bytes("documents/ab/abcd/original", b"a neighbour")
    await store.delete("documents/ab/abc/original")
    assert not await store.exists("documents/ab/abc/original")
    assert await store.delete_prefix("documents/ab/abc") == 2
    assert not await store.exists("documents/ab/abc/text-g1.txt")
    # A key that merely starts with the same characters is another folder.
    assert await store.read_bytes("documents/ab/abcd/original") == b"a neighbour"


async def test_local_copy_is_a_readable_file(store: BlobStore) -> None:
    await store.write_bytes("documents/cd/cde/original", b"%PDF-1.7 not really")
    async with store.local_copy("documents/cd/cde/original") as path:
        assert path.read_bytes() == b"%PDF-1.7 not really"
    with pytest.raises(FileNotFoundError):
        async with store.local_copy("documents/cd/missing/original") as path:
            path.read_bytes()


async def test_keys_that_escape_are_refused(store: BlobStore) -> None:
    with pytest.raises(ValueError, match="escapes"):
        await store.write_bytes("../outside", b"no")
