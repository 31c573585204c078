"""Fixtures for the extraction library's tests (``corpus`` comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.extractor.extraction import ExtractorPool


@pytest.fixture(scope="session")
async def pool() -> AsyncIterator[ExtractorPool]:
    """The text path most tests use: two workers, tables off."""
    extractor_pool = ExtractorPool(workers=2, tables=False)
    await extractor_pool.start()
    yield extractor_pool
    await extractor_pool.close()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, bytes | str], Path]:
    def _write(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return _write
