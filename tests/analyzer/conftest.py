"""Fixtures for the analysis library tests: the corpus, the Gemini stub, fast provider configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.analyzer.analysis import GeminiConfig

from .gemini_stub import GeminiStub


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    # The corpus lives beside the repository, never inside it.
    path = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
    if not path.is_dir():
        pytest.skip(f"corpus not found at {path}")
    return path


@pytest.fixture(scope="session")
def _stub_server() -> Iterator[GeminiStub]:
    with GeminiStub() as stub:
        yield stub


@pytest.fixture
def gemini_stub(_stub_server: GeminiStub) -> Iterator[GeminiStub]:
    """The shared stub server, with an empty script and no recorded calls for each test."""
    _stub_server.reset()
    yield _stub_server
    _stub_server.reset()


@pytest.fixture
def fast_config(gemini_stub: GeminiStub) -> GeminiConfig:
    """Short limits and tiny backoff so retries take milliseconds."""
    return GeminiConfig(
        api_key="test-key",
        model="gemini-2.5-flash",
        base_url=gemini_stub.base_url,
        soft_timeout_s=2.0,
        hard_timeout_s=4.0,
        max_attempts=3,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
    )
